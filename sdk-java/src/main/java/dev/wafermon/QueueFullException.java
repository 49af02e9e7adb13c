package dev.wafermon;

/** The queue was full and the policy is drop: only reported in details, emits do not throw it. C status {@code WM_E_QUEUE_FULL}, named {@code QueueFullError} in the status table. */
public class QueueFullException extends WafermonException {
    private static final long serialVersionUID = 1L;

    /** Creates the exception with the detail message (the C side's {@code wm_last_error()}). */
    public QueueFullException(String message) {
        super(6, "WM_E_QUEUE_FULL", "QueueFullError", message);
    }
}
