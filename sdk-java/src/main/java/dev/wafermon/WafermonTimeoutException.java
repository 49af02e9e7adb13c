package dev.wafermon;

/**
 * A flush or close did not complete within its timeout (nothing is lost: the rest is spooled). C
 * status {@code WM_E_TIMEOUT}, named {@code TimeoutError} in the status table. Prefixed so that it
 * never hides {@code java.util.concurrent.TimeoutException}.
 *
 * <p>It extends the deprecated {@link TimeoutException} only so that code written against the old
 * name still catches it; catch this class.
 */
@SuppressWarnings("deprecation")
public class WafermonTimeoutException extends TimeoutException {
    private static final long serialVersionUID = 1L;

    /** Creates the exception with the detail message (the C side's {@code wm_last_error()}). */
    public WafermonTimeoutException(String message) {
        super(message);
    }
}
