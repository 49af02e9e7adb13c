package dev.wafermon;

/** Metadata is not a JSON object, or holds a value JSON cannot carry. C status {@code WM_E_METADATA}, named {@code MetadataError} in the status table. */
public class MetadataException extends WafermonException {
    private static final long serialVersionUID = 1L;

    /** Creates the exception with the detail message (the C side's {@code wm_last_error()}). */
    public MetadataException(String message) {
        super(4, "WM_E_METADATA", "MetadataError", message);
    }
}
