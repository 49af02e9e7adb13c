package dev.wafermon;

/** An argument is invalid: a value out of range, an empty required string. C status {@code WM_E_INVALID_ARGUMENT}, named {@code InvalidArgumentError} in the status table. */
public class InvalidArgumentException extends WafermonException {
    private static final long serialVersionUID = 1L;

    /** Creates the exception with the detail message (the C side's {@code wm_last_error()}). */
    public InvalidArgumentException(String message) {
        super(1, "WM_E_INVALID_ARGUMENT", "InvalidArgumentError", message);
    }
}
