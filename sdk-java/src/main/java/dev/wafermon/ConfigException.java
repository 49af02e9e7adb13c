package dev.wafermon;

/** The configuration is invalid: unknown key, wrong type, bad value. C status {@code WM_E_CONFIG}, named {@code ConfigError} in the status table. */
public class ConfigException extends WafermonException {
    private static final long serialVersionUID = 1L;

    /** Creates the exception with the detail message (the C side's {@code wm_last_error()}). */
    public ConfigException(String message) {
        super(2, "WM_E_CONFIG", "ConfigError", message);
    }
}
