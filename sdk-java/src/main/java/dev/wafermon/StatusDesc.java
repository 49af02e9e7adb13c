package dev.wafermon;

/**
 * One row of the C status table ({@code wm_status_descs}), as the loaded native library has it.
 *
 * @param code the wm_status value
 * @param name its C name, e.g. {@code "WM_E_CONFIG"}
 * @param exception the exception name every binding uses, e.g. {@code "ConfigError"}
 * @param message a one-line description
 */
public record StatusDesc(int code, String name, String exception, String message) {}
