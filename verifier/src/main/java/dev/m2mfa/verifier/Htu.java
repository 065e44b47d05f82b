package dev.m2mfa.verifier;

import java.net.URI;
import java.util.Locale;

/**
 * Normalizes an HTTP URI for the DPoP {@code htu} comparison (RFC 9449 section 4.3): query and
 * fragment dropped, scheme and host lower-cased, the scheme's default port dropped, an empty
 * path made {@code /}. Path bytes are compared as sent (no percent-decoding).
 */
final class Htu {

    private Htu() {
    }

    static String normalize(URI u) {
        if (!u.isAbsolute() || u.isOpaque() || u.getHost() == null || u.getRawUserInfo() != null) {
            throw new IllegalArgumentException("not an absolute http(s) URI with a host");
        }
        String scheme = u.getScheme().toLowerCase(Locale.ROOT);
        int port = u.getPort();
        if (("https".equals(scheme) && port == 443) || ("http".equals(scheme) && port == 80)) {
            port = -1;
        }
        String path = u.getRawPath() == null || u.getRawPath().isEmpty() ? "/" : u.getRawPath();
        return scheme + "://" + u.getHost().toLowerCase(Locale.ROOT) + (port < 0 ? "" : ":" + port) + path;
    }
}
