package dev.wafermon;

/** The native library ran out of memory. C status {@code WM_E_NOMEM}, named {@code OutOfMemoryError} in the status table. */
public class OutOfMemoryException extends WafermonException {
    private static final long serialVersionUID = 1L;

    /** Creates the exception with the detail message (the C side's {@code wm_last_error()}). */
    public OutOfMemoryException(String message) {
        super(12, "WM_E_NOMEM", "OutOfMemoryError", message);
    }
}
