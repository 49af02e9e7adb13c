package dev.wafermon;

/** The SDK version, kept equal to the pom's and the C core's (checked by VersionTest). */
final class Version {
    static final String SDK = "0.1.0";

    private Version() {}
}
