package dev.wafermon;

/**
 * The old name of {@link WafermonIOException}, which shares its simple name with
 * {@code java.io.IOException}. The SDK throws {@link WafermonIOException}, a subclass, so a
 * {@code catch (dev.wafermon.IOException e)} still catches it.
 *
 * @deprecated catch {@link WafermonIOException}; this class goes in a later major version.
 */
@Deprecated
public class IOException extends WafermonException {
    private static final long serialVersionUID = 1L;

    /**
     * Creates the exception with the detail message.
     *
     * @deprecated create a {@link WafermonIOException}.
     */
    @Deprecated
    public IOException(String message) {
        super(10, "WM_E_IO", "IOError", message);
    }
}
