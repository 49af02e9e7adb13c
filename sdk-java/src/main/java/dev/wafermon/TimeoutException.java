package dev.wafermon;

/**
 * The old name of {@link WafermonTimeoutException}, which shares its simple name with
 * {@code java.util.concurrent.TimeoutException}. The SDK throws {@link WafermonTimeoutException}, a
 * subclass, so a {@code catch (dev.wafermon.TimeoutException e)} still catches it.
 *
 * @deprecated catch {@link WafermonTimeoutException}; this class goes in a later major version.
 */
@Deprecated
public class TimeoutException extends WafermonException {
    private static final long serialVersionUID = 1L;

    /**
     * Creates the exception with the detail message.
     *
     * @deprecated create a {@link WafermonTimeoutException}.
     */
    @Deprecated
    public TimeoutException(String message) {
        super(9, "WM_E_TIMEOUT", "TimeoutError", message);
    }
}
