package dev.wafermon;

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

    /** Starts the job: emits "started" and returns its handle, to be closed. */
    public Job start() {
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
