package dev.wafermon;

/** The client, or this handle, is closed. C status {@code WM_E_CLOSED}, named {@code ClosedError} in the status table. */
public class ClosedException extends WafermonException {
    private static final long serialVersionUID = 1L;

    /** Creates the exception with the detail message (the C side's {@code wm_last_error()}). */
    public ClosedException(String message) {
        super(7, "WM_E_CLOSED", "ClosedError", message);
    }
}
