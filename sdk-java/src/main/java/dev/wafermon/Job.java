package dev.wafermon;

import java.lang.ref.Cleaner;
import java.util.Map;

/**
 * A running job or sub-job: a handle on the C core's {@code wm_job}. Start one with
 * {@link Wafermon#job}, {@link Client#job} or {@link #subjob}, and use it in try-with-resources:
 *
 * <pre>{@code
 * try (Job job = Wafermon.job("batch-1").site("fab1").start()) {
 *     job.progress(0.5);
 *     try (Job wafer = job.subjob("wafer-7").start()) {
 *         wafer.run(() -> etch(wafer));      // an exception marks the wafer failed, then rethrows
 *     }
 * }
 * }</pre>
 *
 * <h2>How a job ends</h2>
 *
 * <ul>
 *   <li>{@link #succeed}, {@link #fail} or {@link #cancel} finish it explicitly; afterwards every
 *       emit ({@code progress}, {@code heartbeat}, another finish) throws {@link StateException}.
 *   <li>{@link #close()} on a job that is not finished yet finishes it <b>succeeded</b>, then frees
 *       the handle. Java's try-with-resources cannot tell close() that the block threw, so an
 *       exception in a plain try block does <b>not</b> mark the job failed by itself. To get that,
 *       run the work through {@link #run(Block)} / {@link #call(ValueBlock)} or
 *       {@link JobBuilder#run} / {@link JobBuilder#call}: they catch any {@link Throwable}, call
 *       {@link #fail(Throwable)} (error type = the exception's class name, message = its
 *       message) and rethrow it unchanged; or call {@code fail(e)} yourself in a catch block
 *       inside the try.
 *   <li>A job that is never closed and becomes unreachable is destroyed by a {@link Cleaner}: the
 *       C core then reports it <b>cancelled</b> with metadata
 *       {@code {"wafermon.reason": "handle destroyed while running"}}.
 * </ul>
 *
 * <p>close() is idempotent. Every other method on a closed handle throws {@link ClosedException};
 * so does every method (close() included, after freeing the handle) once the client is closed
 * while the job was still running. Methods are thread-safe: calls on one job are serialised.
 */
public final class Job implements AutoCloseable {
    static {
        NativeLibrary.load();
    }

    /** A block of work for {@link #run}. */
    @FunctionalInterface
    public interface Block<E extends Exception> {
        void run() throws E;
    }

    /** A block of work with a result for {@link #call}. */
    @FunctionalInterface
    public interface ValueBlock<T, E extends Exception> {
        T get() throws E;
    }

    /** The native pointer; the cleaner action must not reach the Job itself. */
    static final class State implements Runnable {
        final Client.State client;
        long nativePtr;

        State(Client.State client, long ptr) {
            this.client = client;
            this.nativePtr = ptr;
        }

        @Override
        public void run() {
            client.lock.readLock().lock();
            try {
                if (nativePtr != 0) {
                    destroy(nativePtr);
                    nativePtr = 0;
                }
            } finally {
                client.lock.readLock().unlock();
            }
        }
    }

    private final Client client;
    private final State state;
    private final Cleaner.Cleanable cleanable;
    private String id;

    Job(Client client, long ptr) {
        this.client = client;
        this.state = new State(client.state, ptr);
        this.cleanable = Client.CLEANER.register(this, state);
    }

    /** The client this job reports through. */
    public Client client() {
        return client;
    }

    // ---- the guard around every native call: ensureOpen() checks that the handle and its client
    // are open, takes the client's read lock and returns the pointer; release() drops the lock ----

    private long ensureOpen() {
        long p = state.nativePtr;
        if (p == 0) {
            throw new ClosedException("the job handle is closed");
        }
        client.state.lock.readLock().lock();
        if (client.state.nativePtr == 0) {
            client.state.lock.readLock().unlock();
            throw new ClosedException("the client is closed");
        }
        return p;
    }

    private void release() {
        client.state.lock.readLock().unlock();
    }

    private void checked(int status) {
        if (status != Status.OK) {
            throw Status.failure(status);
        }
    }

    /** The job's entity_id (a UUID), fixed for its life. */
    public synchronized String id() {
        if (id == null) {
            long p = ensureOpen();
            try {
                id = id(p);
            } finally {
                release();
            }
        }
        return id;
    }

    /** A builder for a sub-job of this job (it inherits client, site and business key). */
    public JobBuilder subjob(String subKey) {
        return new JobBuilder(client, this, subKey);
    }

    synchronized Job startSubjob(String subKey, byte[] metadata) {
        byte[] sk = Text.utf8("sub_key", subKey);
        long p = ensureOpen();
        long r;
        try {
            r = subjobStart(p, sk, metadata);
        } finally {
            release();
        }
        if (r <= 0) {
            throw Status.failure((int) -r);
        }
        return new Job(client, r);
    }

    /** Reports progress, a fraction in [0, 1], or {@code Double.NaN} for none. */
    public void progress(double fraction) {
        emitProgress(fraction, null);
    }

    /** Reports progress with metadata ({@code fraction} NaN for none). */
    public void progress(double fraction, Map<String, ?> metadata) {
        emitProgress(fraction, Json.objectBytes(Json.Kind.METADATA, metadata));
    }

    /** Reports progress with metadata given as JSON text (it must be a JSON object). */
    public void progressJson(double fraction, String metadataJson) {
        emitProgress(fraction, Text.utf8("metadata", metadataJson));
    }

    private synchronized void emitProgress(double fraction, byte[] metadata) {
        long p = ensureOpen();
        try {
            checked(progress(p, fraction, metadata));
        } finally {
            release();
        }
    }

    /** Reports that the job is alive. */
    public synchronized void heartbeat() {
        long p = ensureOpen();
        try {
            checked(heartbeat(p));
        } finally {
            release();
        }
    }

    /** Sets the W3C trace context of later events: 32 and 16 lower-case hex digits. */
    public synchronized void trace(String traceId, String spanId) {
        byte[] t = Text.utf8("trace_id", traceId);
        byte[] s = Text.utf8("span_id", spanId);
        long p = ensureOpen();
        try {
            checked(setTrace(p, t, s));
        } finally {
            release();
        }
    }

    /** Overrides a measured figure of the finished event (finite, >= 0). */
    public synchronized void metric(Metric metric, double value) {
        if (metric == null) {
            throw new InvalidArgumentException("metric must not be null");
        }
        byte[] n = Text.utf8("metric", metric.wireName());
        long p = ensureOpen();
        try {
            checked(setMetric(p, n, value));
        } finally {
            release();
        }
    }

    /** Finishes the job as succeeded. */
    public void succeed() {
        finishSucceed(null);
    }

    /** Finishes the job as succeeded, with metadata. */
    public void succeed(Map<String, ?> metadata) {
        finishSucceed(Json.objectBytes(Json.Kind.METADATA, metadata));
    }

    /** Finishes the job as succeeded, with metadata as JSON text. */
    public void succeedJson(String metadataJson) {
        finishSucceed(Text.utf8("metadata", metadataJson));
    }

    private void finishSucceed(byte[] metadata) {
        finish((p, m) -> succeed(p, m), metadata);
    }

    /** One of the native finishes (succeed, fail, cancel) on the open handle {@code p}. */
    private interface NativeFinish {
        int call(long p, byte[] metadata);
    }

    private synchronized void finish(NativeFinish nativeFinish, byte[] metadata) {
        long p = ensureOpen();
        try {
            checked(nativeFinish.call(p, metadata));
        } finally {
            release();
        }
    }

    /**
     * Finishes the job as failed because of {@code error}: error type = its class name
     * ({@code getClass().getName()}), message = {@code getMessage()} (none when null).
     */
    public void fail(Throwable error) {
        fail(error, null);
    }

    /** {@link #fail(Throwable)} with metadata. */
    public void fail(Throwable error, Map<String, ?> metadata) {
        if (error == null) {
            throw new InvalidArgumentException("error must not be null");
        }
        fail(error.getClass().getName(), error.getMessage(), metadata);
    }

    /** Finishes the job as failed with an error type (non-empty) and a message (may be null). */
    public void fail(String errorType, String errorMessage) {
        fail(errorType, errorMessage, null);
    }

    /** Finishes the job as failed, with metadata. */
    public void fail(String errorType, String errorMessage, Map<String, ?> metadata) {
        finishFail(errorType, errorMessage, Json.objectBytes(Json.Kind.METADATA, metadata));
    }

    /** Finishes the job as failed, with metadata as JSON text. */
    public void failJson(String errorType, String errorMessage, String metadataJson) {
        finishFail(errorType, errorMessage, Text.utf8("metadata", metadataJson));
    }

    private void finishFail(String errorType, String errorMessage, byte[] metadata) {
        byte[] type = Text.utf8("error_type", errorType);
        byte[] message = Text.utf8("error_message", errorMessage);
        finish((p, m) -> fail(p, type, message, m), metadata);
    }

    /** Finishes the job as cancelled. */
    public void cancel() {
        finishCancel(null);
    }

    /** Finishes the job as cancelled, with metadata. */
    public void cancel(Map<String, ?> metadata) {
        finishCancel(Json.objectBytes(Json.Kind.METADATA, metadata));
    }

    /** Finishes the job as cancelled, with metadata as JSON text. */
    public void cancelJson(String metadataJson) {
        finishCancel(Text.utf8("metadata", metadataJson));
    }

    private void finishCancel(byte[] metadata) {
        finish((p, m) -> cancel(p, m), metadata);
    }

    /** True once the job is finished (any outcome); throws {@link ClosedException} after close(). */
    public synchronized boolean isFinished() {
        long p = state.nativePtr;
        if (p == 0) {
            throw new ClosedException("the job handle is closed");
        }
        return isFinished(p);
    }

    /** True once {@link #close()} has run. */
    public synchronized boolean isClosed() {
        return state.nativePtr == 0;
    }

    /**
     * Runs {@code block}; if it throws anything, finishes this job as failed with that throwable
     * (unless the job is already finished) and rethrows it unchanged. Does not finish the job on
     * success: close() does that.
     */
    public <E extends Exception> void run(Block<E> block) throws E {
        try {
            block.run();
        } catch (Throwable t) {
            failQuietly(t);
            throw t;
        }
    }

    /** {@link #run} for a block that returns a value. */
    public <T, E extends Exception> T call(ValueBlock<T, E> block) throws E {
        try {
            return block.get();
        } catch (Throwable t) {
            failQuietly(t);
            throw t;
        }
    }

    /** Marks the job failed by t unless finished; a failure to do so is attached to t. */
    void failQuietly(Throwable t) {
        try {
            if (!isClosed() && !isFinished()) {
                fail(t);
            }
        } catch (RuntimeException e) {
            t.addSuppressed(e);
        }
    }

    /**
     * Finishes the job as succeeded if it is not finished yet, then frees the handle. Idempotent.
     * If the finish fails (the client was closed first), the handle is still freed and the error
     * is thrown.
     */
    @Override
    public synchronized void close() {
        long p = state.nativePtr;
        if (p == 0) {
            return;
        }
        WafermonException pending = null;
        client.state.lock.readLock().lock();
        try {
            if (!isFinished(p)) {
                if (client.state.nativePtr == 0) {
                    pending = new ClosedException(
                            "the client was closed before this job finished; it was not reported "
                                    + "as finished");
                } else {
                    int st = succeed(p, null);
                    if (st != Status.OK && st != Status.STATE) {
                        pending = Status.failure(st);
                    }
                }
            }
            state.nativePtr = 0;
            destroy(p);
        } finally {
            client.state.lock.readLock().unlock();
        }
        cleanable.clean(); // ptr is 0: only unregisters
        if (pending != null) {
            throw pending;
        }
    }

    /** Starts a top-level job; the caller holds the client's read lock. */
    static long startTop(long client, byte[] businessKey, byte[] siteId, byte[] metadata) {
        return start(client, businessKey, siteId, metadata);
    }

    private static native long start(long client, byte[] businessKey, byte[] siteId, byte[] metadata);

    private static native long subjobStart(long parent, byte[] subKey, byte[] metadata);

    private static native int progress(long job, double fraction, byte[] metadata);

    private static native int heartbeat(long job);

    private static native int setTrace(long job, byte[] traceId, byte[] spanId);

    private static native int setMetric(long job, byte[] name, double value);

    private static native int succeed(long job, byte[] metadata);

    private static native int fail(long job, byte[] errorType, byte[] errorMessage, byte[] metadata);

    private static native int cancel(long job, byte[] metadata);

    private static native String id(long job);

    private static native boolean isFinished(long job);

    private static native void destroy(long job);
}
