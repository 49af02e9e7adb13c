package dev.wafermon;

/** Turns a C status and its detail into the matching exception. */
final class Status {
    static final int OK = 0;
    static final int INVALID_ARGUMENT = 1;
    static final int ENCODING = 3;
    static final int METADATA = 4;
    static final int CLOSED = 7;
    static final int STATE = 8;
    static final int TIMEOUT = 9;

    private Status() {}

    /** The exception for status {@code code} with the C detail (or the status's own message). */
    static WafermonException exception(int code, String detail) {
        switch (code) {
            case 1: return new InvalidArgumentException(detail);
            case 2: return new ConfigException(detail);
            case 3: return new EncodingException(detail);
            case 4: return new MetadataException(detail);
            case 5: return new TooLargeException(detail);
            case 6: return new QueueFullException(detail);
            case 7: return new ClosedException(detail);
            case 8: return new StateException(detail);
            case 9: return new WafermonTimeoutException(detail);
            case 10: return new WafermonIOException(detail);
            case 11: return new SpoolLockedException(detail);
            case 12: return new OutOfMemoryException(detail);
            case 13: return new ForkedException(detail);
            case 14: return new InternalException(detail);
            default:
                // A status newer than this SDK: keep its C name so nothing is lost.
                return new WafermonException(code, NativeLibrary.statusName(code), "WafermonError",
                        detail);
        }
    }

    /** Throws the exception for a failed native call, with this thread's wm_last_error(). */
    static void check(int code) {
        if (code != OK) {
            throw failure(code);
        }
    }

    /** The exception for a failed native call, with this thread's wm_last_error(). */
    static WafermonException failure(int code) {
        String detail = NativeLibrary.lastErrorText();
        if (detail.isEmpty()) {
            detail = NativeLibrary.statusName(code);
        }
        return exception(code, detail);
    }
}
