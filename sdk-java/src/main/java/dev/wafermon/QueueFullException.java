package dev.wafermon;

/** Never thrown: with queue.when_full "drop" an emit into a full queue succeeds and the event is counted in {@link Stat#DROPPED} (monitoring never fails the job); kept so the status table stays complete. C status {@code WM_E_QUEUE_FULL}, named {@code QueueFullError} in the status table. */
public class QueueFullException extends WafermonException {
    private static final long serialVersionUID = 1L;

    /** Creates the exception with the detail message (the C side's {@code wm_last_error()}). */
    public QueueFullException(String message) {
        super(6, "WM_E_QUEUE_FULL", "QueueFullError", message);
    }
}
