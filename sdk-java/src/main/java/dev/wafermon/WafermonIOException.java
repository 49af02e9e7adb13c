package dev.wafermon;

/**
 * A file or directory (spool, file backend) could not be created, written or read. C status
 * {@code WM_E_IO}, named {@code IOError} in the status table. Prefixed so that it never hides
 * {@code java.io.IOException} (zstd-jni's {@code ZstdIOException} does the same).
 *
 * <p>It extends the deprecated {@link IOException} only so that code written against the old name
 * still catches it; catch this class.
 */
@SuppressWarnings("deprecation")
public class WafermonIOException extends IOException {
    private static final long serialVersionUID = 1L;

    /** Creates the exception with the detail message (the C side's {@code wm_last_error()}). */
    public WafermonIOException(String message) {
        super(message);
    }
}
