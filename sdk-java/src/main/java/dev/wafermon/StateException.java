package dev.wafermon;

/** The job is already finished. C status {@code WM_E_STATE}, named {@code StateError} in the status table. */
public class StateException extends WafermonException {
    private static final long serialVersionUID = 1L;

    /** Creates the exception with the detail message (the C side's {@code wm_last_error()}). */
    public StateException(String message) {
        super(8, "WM_E_STATE", "StateError", message);
    }
}
