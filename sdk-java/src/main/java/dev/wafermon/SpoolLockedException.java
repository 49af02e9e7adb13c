package dev.wafermon;

/** Every spool slot under the spool path is held by other processes. C status {@code WM_E_SPOOL_LOCKED}, named {@code SpoolLockedError} in the status table. */
public class SpoolLockedException extends WafermonException {
    private static final long serialVersionUID = 1L;

    /** Creates the exception with the detail message (the C side's {@code wm_last_error()}). */
    public SpoolLockedException(String message) {
        super(11, "WM_E_SPOOL_LOCKED", "SpoolLockedError", message);
    }
}
