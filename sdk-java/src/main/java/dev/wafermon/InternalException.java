package dev.wafermon;

/** A bug in wafermon: please report it with the message. C status {@code WM_E_INTERNAL}, named {@code InternalError} in the status table. */
public class InternalException extends WafermonException {
    private static final long serialVersionUID = 1L;

    /** Creates the exception with the detail message (the C side's {@code wm_last_error()}). */
    public InternalException(String message) {
        super(14, "WM_E_INTERNAL", "InternalError", message);
    }
}
