package dev.wafermon;

/** A value exceeds its documented size limit. C status {@code WM_E_TOO_LARGE}, named {@code TooLargeError} in the status table. */
public class TooLargeException extends WafermonException {
    private static final long serialVersionUID = 1L;

    /** Creates the exception with the detail message (the C side's {@code wm_last_error()}). */
    public TooLargeException(String message) {
        super(5, "WM_E_TOO_LARGE", "TooLargeError", message);
    }
}
