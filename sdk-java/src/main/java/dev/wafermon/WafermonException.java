package dev.wafermon;

/**
 * The base of every error the SDK throws. Each C status of {@code wm_status_descs} has one subclass,
 * named after the status table's exception name with "Error" turned into "Exception"
 * ({@code ConfigError} becomes {@link ConfigException}), with a "Wafermon" prefix where that name
 * is a JDK class's ({@link WafermonIOException}, {@link WafermonTimeoutException}); {@link
 * #errorName()} gives the table's name, which is the same in every language. Unchecked, so
 * try-with-resources needs no catch.
 */
public class WafermonException extends RuntimeException {
    private static final long serialVersionUID = 1L;

    private final int code;
    private final String statusName;
    private final String errorName;

    /** Creates an exception for a status; subclasses pass their fixed values. */
    public WafermonException(int code, String statusName, String errorName, String message) {
        super(message);
        this.code = code;
        this.statusName = statusName;
        this.errorName = errorName;
    }

    /** The numeric wm_status value, e.g. 2 for WM_E_CONFIG. */
    public int code() {
        return code;
    }

    /** The C name of the status, e.g. {@code "WM_E_CONFIG"}. */
    public String statusName() {
        return statusName;
    }

    /** The exception name from the C status table, e.g. {@code "ConfigError"}. */
    public String errorName() {
        return errorName;
    }
}
