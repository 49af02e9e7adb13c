package dev.wafermon;

import java.lang.ref.Cleaner;
import java.time.Duration;
import java.util.EnumMap;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.concurrent.locks.ReentrantReadWriteLock;

/**
 * A connection to libwafermon: configuration, a bounded queue and a background delivery thread (in
 * the C core). Most programs use the default client through {@link Wafermon}; open one yourself to
 * send to several places or to control its life.
 *
 * <p>Configuration layers, later wins: built-in defaults, {@code WAFERMON_CONFIG}, the other
 * {@code WAFERMON_*} variables, then the map given to {@link #open(Map)}. The SDK always adds
 * {@code "sdk": {"lang": "java", "version": "<sdk version>"}} to that map (overriding those two keys
 * if the map has them).
 *
 * <p>Thread-safe. {@link #close()} waits for calls in flight on other threads, then makes every
 * later call on the client or its jobs throw {@link ClosedException} (only {@link Job#close()} still
 * frees a job handle). A client that becomes unreachable without being closed is closed by a
 * {@link Cleaner} with a 2 s flush; the C core also flushes every open client when the JVM exits.
 */
public final class Client implements AutoCloseable {
    static {
        NativeLibrary.load();
    }

    static final Cleaner CLEANER = Cleaner.create();
    /** The flush timeout of {@link #close()}. */
    public static final Duration DEFAULT_CLOSE_TIMEOUT = Duration.ofSeconds(5);

    /** The native pointer and its lock; the cleaner action must not reach the Client itself. */
    static final class State implements Runnable {
        final ReentrantReadWriteLock lock = new ReentrantReadWriteLock();
        long nativePtr;

        @Override
        public void run() {
            lock.writeLock().lock();
            try {
                if (nativePtr != 0) {
                    close(nativePtr, 2.0);
                    nativePtr = 0;
                }
            } finally {
                lock.writeLock().unlock();
            }
        }
    }

    final State state;
    private final Cleaner.Cleanable cleanable;

    private Client(long ptr) {
        this.state = new State();
        this.state.nativePtr = ptr;
        this.cleanable = CLEANER.register(this, state);
    }

    /** Opens a client configured from the environment only. */
    public static Client open() {
        return open(null);
    }

    /**
     * Opens a client. {@code config} follows the universal configuration schema
     * ({@code mode}, {@code sidecar}, {@code direct_backends}, {@code app}, {@code spool},
     * {@code queue}, ...); null means none. Throws {@link ConfigException} naming the key at fault.
     */
    public static Client open(Map<String, ?> config) {
        Map<String, Object> merged = new LinkedHashMap<>();
        if (config != null) {
            merged.putAll(config);
        }
        Map<String, Object> sdk = new LinkedHashMap<>();
        Object userSdk = merged.get("sdk");
        if (userSdk instanceof Map) {
            for (Map.Entry<?, ?> e : ((Map<?, ?>) userSdk).entrySet()) {
                sdk.put(String.valueOf(e.getKey()), e.getValue());
            }
        }
        sdk.put("lang", "java");
        sdk.put("version", Version.SDK);
        merged.put("sdk", sdk);
        long r = openNative(Json.objectBytes(Json.Kind.CONFIG, merged));
        if (r <= 0) {
            throw Status.failure((int) -r);
        }
        return new Client(r);
    }

    /** A builder for a new top-level job with the user's key (batch id); null for none. */
    public JobBuilder job(String businessKey) {
        return new JobBuilder(this, null, businessKey);
    }

    /**
     * Waits until every event emitted before the call is delivered or durably spooled, at most
     * {@code timeout}. Throws {@link WafermonTimeoutException} if not done in time (nothing is lost: the
     * events stay queued).
     */
    public void flush(Duration timeout) {
        flush(seconds(timeout));
    }

    /** {@link #flush(Duration)} with the timeout in seconds (0 only nudges the thread). */
    public void flush(double timeoutSeconds) {
        state.lock.readLock().lock();
        try {
            Status.check(flush(ptr(), timeoutSeconds));
        } finally {
            state.lock.readLock().unlock();
        }
    }

    /** A counter of this client; 0 once closed. */
    public long stat(Stat stat) {
        state.lock.readLock().lock();
        try {
            return state.nativePtr == 0 ? 0 : stat(state.nativePtr, stat.ordinal());
        } finally {
            state.lock.readLock().unlock();
        }
    }

    /** Every counter at once. */
    public Map<Stat, Long> stats() {
        Map<Stat, Long> out = new EnumMap<>(Stat.class);
        for (Stat s : Stat.values()) {
            out.put(s, stat(s));
        }
        return out;
    }

    /** True once {@link #close()} has run. */
    public boolean isClosed() {
        state.lock.readLock().lock();
        try {
            return state.nativePtr == 0;
        } finally {
            state.lock.readLock().unlock();
        }
    }

    /** Closes with {@link #DEFAULT_CLOSE_TIMEOUT}; idempotent. */
    @Override
    public void close() {
        close(DEFAULT_CLOSE_TIMEOUT);
    }

    /**
     * Flushes for at most {@code timeout}, stops the delivery thread, spools what is still queued
     * (replayed at the next start) and frees the client. Returns true when everything was delivered
     * or spooled within the timeout, false otherwise (the rest is in the spool, not lost); false
     * also when the client was already closed. Idempotent.
     */
    public boolean close(Duration timeout) {
        double t = seconds(timeout);
        state.lock.writeLock().lock();
        try {
            if (state.nativePtr == 0) {
                return false;
            }
            long p = state.nativePtr;
            state.nativePtr = 0;
            int st = close(p, t);
            if (st != Status.OK && st != Status.TIMEOUT) {
                throw Status.failure(st);
            }
            return st == Status.OK;
        } finally {
            state.lock.writeLock().unlock();
            cleanable.clean(); // nothing left to do: only unregisters
        }
    }

    /** The native pointer; the caller holds the read lock. */
    long ptr() {
        long p = state.nativePtr;
        if (p == 0) {
            throw new ClosedException("the client is closed");
        }
        return p;
    }

    static double seconds(Duration d) {
        if (d == null || d.isNegative()) {
            throw new InvalidArgumentException("timeout must be a non-negative duration, got " + d);
        }
        return d.getSeconds() + d.getNano() / 1e9;
    }

    private static native long openNative(byte[] configJson);

    private static native int flush(long client, double timeoutSeconds);

    private static native int close(long client, double timeoutSeconds);

    private static native long stat(long client, int stat);
}
