package dev.wafermon;

import java.time.Duration;
import java.util.List;
import java.util.Map;

/**
 * The entry point: a process-wide default {@link Client} and shortcuts to it.
 *
 * <pre>{@code
 * Wafermon.configure(Map.of("mode", "direct",
 *         "direct_backends", List.of(Map.of("type", "filesystem", "path", "/var/log/wafermon"))));
 * try (Job job = Wafermon.job("batch-1").site("fab1").metadata(Map.of("recipe", "r7")).start()) {
 *     job.progress(0.5);
 * }
 * Wafermon.job("batch-2").run(job -> process(job));   // failed + rethrown if process throws
 * }</pre>
 *
 * <p>Without {@link #configure}, the default client is opened on first use from the environment
 * ({@code WAFERMON_CONFIG}, {@code WAFERMON_*}), which by default sends to the sidecar at
 * http://127.0.0.1:17000 and spools what it cannot deliver.
 *
 * <p>Metadata maps accept {@code null}, {@code String}, {@code Character}, {@code Boolean},
 * integral and finite floating-point numbers, nested {@code Map<String, ?>}, {@code Iterable} and
 * arrays; anything else throws {@link MetadataException} naming the key.
 */
public final class Wafermon {
    private static Client defaultClient;

    private Wafermon() {}

    /**
     * Opens a new default client with {@code config} (merged over the environment, see
     * {@link Client#open(Map)}) and closes the previous one, if any, with a 2 s flush. Jobs
     * started on the previous client can then only be closed. Returns the new client.
     */
    public static Client configure(Map<String, ?> config) {
        Client fresh = Client.open(config);
        Client old;
        synchronized (Wafermon.class) {
            old = defaultClient;
            defaultClient = fresh;
        }
        if (old != null) {
            old.close(Duration.ofSeconds(2));
        }
        return fresh;
    }

    /** The default client, opened from the environment on first use. */
    public static synchronized Client client() {
        if (defaultClient == null || defaultClient.isClosed()) {
            defaultClient = Client.open();
        }
        return defaultClient;
    }

    /** A builder for a job on the default client; {@code businessKey} may be null. */
    public static JobBuilder job(String businessKey) {
        return client().job(businessKey);
    }

    /** Flushes the default client (if it was opened), at most {@code timeout}. */
    public static void flush(Duration timeout) {
        Client c;
        synchronized (Wafermon.class) {
            c = defaultClient;
        }
        if (c != null) {
            c.flush(timeout);
        }
    }

    /**
     * Closes the default client (flushing at most {@code timeout}); the next use opens a new one.
     * Returns what {@link Client#close(Duration)} returns, or true when none was open.
     */
    public static boolean shutdown(Duration timeout) {
        Client c;
        synchronized (Wafermon.class) {
            c = defaultClient;
            defaultClient = null;
        }
        return c == null || c.close(timeout);
    }

    /** The SDK's version, e.g. "0.1.0". */
    public static String version() {
        return Version.SDK;
    }

    /** The loaded native core's version, e.g. "0.1.0". */
    public static String nativeVersion() {
        NativeLibrary.load();
        return NativeLibrary.version();
    }

    /** The C status table ({@code wm_status_descs}) of the loaded native core. */
    public static List<StatusDesc> statusTable() {
        NativeLibrary.load();
        return List.copyOf(NativeLibrary.statusDescs());
    }
}
