package dev.wafermon;

/** The client's counters ({@code wm_stat}), in the C enum's order; see {@link Client#stat}. */
public enum Stat {
    /** Events accepted by an emit call. */
    EMITTED,
    /** Events acknowledged by the sidecar or written by a backend. */
    DELIVERED,
    /** Events written to the spool (durably). */
    SPOOLED,
    /** Events lost by policy (queue full with "drop", spool cap). */
    DROPPED,
    /** Delivery attempts repeated after a transient failure. */
    RETRIES,
    /** Events refused permanently (4xx), written to the dead-letter file. */
    DEAD_LETTERED,
    /** Events delivered from the spool. */
    REPLAYED,
    /** Events waiting in memory now. */
    QUEUE_DEPTH,
    /** Bytes in spool segments now. */
    SPOOL_BYTES,
    /** Events in the spool not yet delivered, as last counted. */
    SPOOL_PENDING,
    /** Corrupt or torn spool records truncated at recovery. */
    CORRUPT;

    /** The C side's lower-case name of the counter, e.g. {@code "delivered"}. */
    public String cName() {
        return name().toLowerCase(java.util.Locale.ROOT);
    }
}
