package dev.wafermon;

/** A figure of the "finished" event that {@link Job#metric} may override. */
public enum Metric {
    DURATION_S("duration_s"),
    CPU_USER_S("cpu_user_s"),
    CPU_SYS_S("cpu_sys_s"),
    MEM_MAX_MB("mem_max_mb");

    private final String wireName;

    Metric(String wireName) {
        this.wireName = wireName;
    }

    /** The field name in the event's {@code metrics} object. */
    public String wireName() {
        return wireName;
    }
}
