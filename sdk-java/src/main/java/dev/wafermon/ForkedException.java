package dev.wafermon;

/** A job handle was used in a child process (never raised by the JVM, which cannot fork). C status {@code WM_E_FORKED}, named {@code ForkedError} in the status table. */
public class ForkedException extends WafermonException {
    private static final long serialVersionUID = 1L;

    /** Creates the exception with the detail message (the C side's {@code wm_last_error()}). */
    public ForkedException(String message) {
        super(13, "WM_E_FORKED", "ForkedError", message);
    }
}
