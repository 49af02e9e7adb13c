package dev.wafermon;

import java.nio.charset.StandardCharsets;
import java.util.Map;

/**
 * Describes a job or sub-job before it starts: {@code Wafermon.job("batch-1").site("fab1")
 * .metadata(Map.of("recipe", "r7")).start()}. A builder may be started more than once; each
 * {@link #start()} starts a new job.
 */
public final class JobBuilder {
    /** The work of {@link #run}: receives the started job. */
    @FunctionalInterface
    public interface Body<E extends Exception> {
        void run(Job job) throws E;
    }

    /** The work of {@link #call}: receives the started job and returns a value. */
    @FunctionalInterface
    public interface ValueBody<T, E extends Exception> {
        T apply(Job job) throws E;
    }

    private final Client client;
    private final Job parent;
    private final String key;
    private String site;
    private byte[] metadata;
    private String monitorJson;

    JobBuilder(Client client, Job parent, String key) {
        this.client = client;
        this.parent = parent;
        this.key = key;
    }

    /**
     * The site (fab) of a top-level job, at most 128 bytes; by default the configured
     * {@code app.site_id}. A sub-job inherits its parent's site, so this throws
     * {@link InvalidArgumentException} on a sub-job builder.
     */
    public JobBuilder site(String siteId) {
        if (parent != null) {
            throw new InvalidArgumentException(
                    "site: a sub-job inherits its parent's site; site() applies to top-level jobs");
        }
        this.site = siteId;
        return this;
    }

    /**
     * Metadata of the "started" event, written as a JSON object (see {@link Wafermon} for the
     * accepted value types). Checked here: a value JSON cannot carry throws
     * {@link MetadataException} naming the key. Null means none.
     */
    public JobBuilder metadata(Map<String, ?> metadata) {
        this.metadata = Json.objectBytes(Json.Kind.METADATA, metadata);
        return this;
    }

    /** Metadata as JSON text, handed to the core as it is (it must be a JSON object). */
    public JobBuilder metadataJson(String metadataJson) {
        this.metadata = Text.utf8("metadata", metadataJson);
        return this;
    }

    /**
     * A schedule monitor declared from code, e.g. {@code .monitor(Map.of("schedule", "0 2 * * *",
     * "tz", "Europe/Berlin", "max_runtime_s", 3600))}: sent in the "started" event's metadata under
     * the reserved key {@code "wafermon.monitor"}; the gateway creates or updates the monitor (see
     * docs/alerting.md). Null means none. A value JSON cannot carry throws {@link MetadataException}.
     */
    public JobBuilder monitor(Map<String, ?> monitor) {
        this.monitorJson = monitor == null ? null : Json.objectText(Json.Kind.METADATA, monitor);
        return this;
    }

    /** The metadata with the monitor declaration added as its last key. */
    private byte[] withMonitor() {
        if (monitorJson == null) {
            return metadata;
        }
        String entry = "\"wafermon.monitor\":" + monitorJson;
        String text = metadata == null ? "{}" : new String(metadata, StandardCharsets.UTF_8).strip();
        int end = text.lastIndexOf('}');
        if (!text.startsWith("{") || end < 0) {
            return metadata; // not a JSON object: the core refuses it with its own error
        }
        String head = text.substring(0, end).strip();
        String joined = head.equals("{") ? "{" + entry + "}" : head + "," + entry + "}";
        return joined.getBytes(StandardCharsets.UTF_8);
    }

    /** Starts the job: emits "started" and returns its handle, to be closed. */
    public Job start() {
        byte[] metadata = withMonitor();
        if (parent != null) {
            return parent.startSubjob(key, metadata);
        }
        byte[] bk = Text.utf8("business_key", key);
        byte[] st = Text.utf8("site_id", site);
        Client.State cs = client.state;
        long r;
        cs.lock.readLock().lock();
        try {
            r = Job.startTop(client.ptr(), bk, st, metadata);
        } finally {
            cs.lock.readLock().unlock();
        }
        if (r <= 0) {
            throw Status.failure((int) -r);
        }
        return new Job(client, r);
    }

    /**
     * Starts the job, runs {@code body} with it and closes it: succeeded when the body returns
     * (unless it finished the job itself), failed when it throws — the throwable is then rethrown
     * unchanged, with any error from reporting the failure attached as suppressed.
     */
    public <E extends Exception> void run(Body<E> body) throws E {
        try (Job job = start()) {
            try {
                body.run(job);
            } catch (Throwable t) {
                job.failQuietly(t);
                throw t;
            }
        }
    }

    /** {@link #run} for a body that returns a value. */
    public <T, E extends Exception> T call(ValueBody<T, E> body) throws E {
        try (Job job = start()) {
            try {
                return body.apply(job);
            } catch (Throwable t) {
                job.failQuietly(t);
                throw t;
            }
        }
    }
}
