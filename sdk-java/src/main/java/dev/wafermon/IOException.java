package dev.wafermon;

/** A file or directory could not be created, written or read (not java.io.IOException). C status {@code WM_E_IO}, named {@code IOError} in the status table. */
public class IOException extends WafermonException {
    private static final long serialVersionUID = 1L;

    /** Creates the exception with the detail message (the C side's {@code wm_last_error()}). */
    public IOException(String message) {
        super(10, "WM_E_IO", "IOError", message);
    }
}
