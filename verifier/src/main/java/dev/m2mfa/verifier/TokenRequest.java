package dev.m2mfa.verifier;

import java.net.URI;
import java.security.cert.X509Certificate;
import java.util.Collection;
import java.util.Objects;
import java.util.Set;

/**
 * What {@link TokenVerifier#verify} needs to know about one HTTP request.
 *
 * <p>The two {@code untrusted…} values are copied from request headers as the client sent
 * them; the verifier treats them as hostile until checked. The method, the URI and the client
 * certificate come from the service itself: the URI is the one the request reached (the
 * service's own scheme, host and path, not a client-supplied forwarding header), and the
 * certificate is one the service's TLS stack already verified, or null.
 *
 * @param untrustedAuthorization the {@code Authorization} header value, or null if absent
 * @param untrustedDpop          the {@code DPoP} header value, or null if absent
 * @param method                 the HTTP method, as received (case-sensitive)
 * @param uri                    the absolute request URI; query and fragment are ignored
 * @param clientCertificate      the verified TLS client certificate (leaf), or null
 * @param requiredAmr            factors the token's {@code amr} must all contain
 * @param minimumAcr             the weakest acceptable {@code acr}, or null for none
 */
public record TokenRequest(String untrustedAuthorization, String untrustedDpop, String method, URI uri,
        X509Certificate clientCertificate, Set<String> requiredAmr, String minimumAcr) {

    /** Validates what the service supplies; the untrusted headers are checked by the verifier. */
    public TokenRequest {
        if (method == null || method.isEmpty()) {
            throw new IllegalArgumentException("The HTTP method is required.");
        }
        Objects.requireNonNull(uri, "The request URI is required.");
        String scheme = uri.getScheme();
        boolean valid = "https".equalsIgnoreCase(scheme) || "http".equalsIgnoreCase(scheme);
        try {
            Htu.normalize(uri);
        } catch (IllegalArgumentException e) {
            valid = false;
        }
        if (!valid) {
            throw new IllegalArgumentException("The request URI must be an absolute http or https URI with a host.");
        }
        requiredAmr = requiredAmr == null ? Set.of() : Set.copyOf(requiredAmr);
        for (String f : requiredAmr) {
            Names.checkName("A required factor name", f);
        }
        if (minimumAcr != null) {
            Names.checkName("The minimum acr", minimumAcr);
        }
    }

    /** A builder; {@code method} and {@code uri} are required. */
    public static Builder builder() {
        return new Builder();
    }

    /** Never prints the token, the proof or the query string. */
    @Override
    public String toString() {
        return "TokenRequest[method=" + method + ", uri=" + redact(uri)
                + ", authorization=" + (untrustedAuthorization == null ? "absent" : "(redacted)")
                + ", dpop=" + (untrustedDpop == null ? "absent" : "(redacted)")
                + ", clientCertificate=" + (clientCertificate == null ? "absent" : "present")
                + ", requiredAmr=" + requiredAmr + ", minimumAcr=" + minimumAcr + "]";
    }

    private static String redact(URI uri) {
        return uri == null ? "null" : uri.getScheme() + "://" + uri.getRawAuthority() + (uri.getRawPath() == null ? "" : uri.getRawPath());
    }

    /** Builds a {@link TokenRequest}. */
    public static final class Builder {
        private String authorization;
        private String dpop;
        private String method;
        private URI uri;
        private X509Certificate clientCertificate;
        private Set<String> requiredAmr = Set.of();
        private String minimumAcr;

        private Builder() {
        }

        /** The {@code Authorization} header value as received (e.g. {@code "DPoP eyJ…"}), or null. */
        public Builder authorization(String untrustedAuthorization) {
            this.authorization = untrustedAuthorization;
            return this;
        }

        /** The {@code DPoP} header value as received, or null. */
        public Builder dpop(String untrustedDpop) {
            this.dpop = untrustedDpop;
            return this;
        }

        /** The HTTP method, e.g. {@code GET}. */
        public Builder method(String method) {
            this.method = method;
            return this;
        }

        /** The absolute URI the request reached. */
        public Builder uri(URI uri) {
            this.uri = uri;
            return this;
        }

        /** The absolute URI the request reached. */
        public Builder uri(String uri) {
            this.uri = URI.create(uri);
            return this;
        }

        /** The TLS client certificate (leaf) the service's TLS stack verified, or null. */
        public Builder clientCertificate(X509Certificate clientCertificate) {
            this.clientCertificate = clientCertificate;
            return this;
        }

        /** Factors the token's {@code amr} must all contain. */
        public Builder requiredAmr(Collection<String> factors) {
            this.requiredAmr = Set.copyOf(factors);
            return this;
        }

        /** The weakest acceptable {@code acr} (in the verifier's {@code acrOrder}), or null. */
        public Builder minimumAcr(String acr) {
            this.minimumAcr = acr;
            return this;
        }

        /** Builds the request; fails on a missing method or a relative URI. */
        public TokenRequest build() {
            return new TokenRequest(authorization, dpop, method, uri, clientCertificate, requiredAmr, minimumAcr);
        }
    }
}
