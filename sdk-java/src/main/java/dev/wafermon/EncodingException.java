package dev.wafermon;

/** A string is not valid Unicode text (an unpaired surrogate, a NUL character). C status {@code WM_E_ENCODING}, named {@code EncodingError} in the status table. */
public class EncodingException extends WafermonException {
    private static final long serialVersionUID = 1L;

    /** Creates the exception with the detail message (the C side's {@code wm_last_error()}). */
    public EncodingException(String message) {
        super(3, "WM_E_ENCODING", "EncodingError", message);
    }
}
