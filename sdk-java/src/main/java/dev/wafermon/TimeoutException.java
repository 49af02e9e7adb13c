package dev.wafermon;

/** A flush or close did not complete within its timeout. C status {@code WM_E_TIMEOUT}, named {@code TimeoutError} in the status table. */
public class TimeoutException extends WafermonException {
    private static final long serialVersionUID = 1L;

    /** Creates the exception with the detail message (the C side's {@code wm_last_error()}). */
    public TimeoutException(String message) {
        super(9, "WM_E_TIMEOUT", "TimeoutError", message);
    }
}
