package dev.m2mfa.verifier;

import java.util.Collection;
import java.util.List;
import java.util.Optional;
import java.util.TreeSet;

/**
 * A request's access token was refused.
 *
 * <p>The {@link #getMessage() message} is the same for every reason of one {@link Category} (it
 * is the problem title a client may see), so it tells an attacker nothing about which check
 * failed. The {@link #reason() reason} says which check failed: write it to your logs and
 * metrics, never to the response. The exception carries no stack trace (rejections are
 * frequent and expected, and filling stack traces would make floods of bad tokens costlier).
 */
public final class TokenRejectedException extends Exception {

    private static final long serialVersionUID = 1L;

    /** Which check refused the token. For logs and metrics only. */
    public enum Reason {
        /** No token, not a compact JWS, a wrong {@code typ}, a missing or ill-typed claim. */
        MALFORMED(Category.INVALID_TOKEN),
        /** The token's {@code alg} is not exactly ES256 ({@code none}, HS256, RS256, ...). */
        BAD_ALGORITHM(Category.INVALID_TOKEN),
        /** The {@code kid} is not in the authority's JWKS, even after a refetch. */
        UNKNOWN_KEY(Category.INVALID_TOKEN),
        /** The ES256 signature does not verify with the key named by {@code kid}. */
        BAD_SIGNATURE(Category.INVALID_TOKEN),
        /** {@code exp} is past, beyond the clock skew. */
        EXPIRED(Category.INVALID_TOKEN),
        /** {@code nbf} or {@code iat} is in the future, beyond the clock skew. */
        NOT_YET_VALID(Category.INVALID_TOKEN),
        /** {@code iss} is not the configured issuer. */
        WRONG_ISSUER(Category.INVALID_TOKEN),
        /** {@code aud} does not contain the configured audience. */
        WRONG_AUDIENCE(Category.INVALID_TOKEN),
        /** The token's subject is revoked. */
        REVOKED(Category.INVALID_TOKEN),
        /** The request proves possession of no bound key (no DPoP proof, no matching mTLS). */
        MISSING_PROOF(Category.INVALID_TOKEN),
        /** A DPoP proof or client certificate was presented but does not prove possession. */
        BAD_PROOF(Category.INVALID_TOKEN),
        /** The DPoP proof's {@code jti} was already used. */
        PROOF_REPLAYED(Category.INVALID_TOKEN),
        /** The token lacks a factor ({@code amr}) the route requires. */
        INSUFFICIENT_FACTORS(Category.INSUFFICIENT_AUTHENTICATION),
        /** The token's {@code acr} is below the route's minimum. */
        INSUFFICIENT_ACR(Category.INSUFFICIENT_AUTHENTICATION),
        /** Revocation data is older than the staleness bound, or was never received. */
        REVOCATION_STALE(Category.UNAVAILABLE);

        private final Category category;

        Reason(Category category) {
            this.category = category;
        }

        /** The group of reasons that share a status, a challenge and a client-visible message. */
        public Category category() {
            return category;
        }

        /** The HTTP status to answer with. */
        public int httpStatus() {
            return category.httpStatus();
        }
    }

    /**
     * What a client may learn: the HTTP status, the problem type and title. Every reason in
     * a category looks the same on the wire.
     */
    public enum Category {
        /** 401, {@code WWW-Authenticate: DPoP error="invalid_token", algs="ES256"}. */
        INVALID_TOKEN(401, "invalid-token", "The access token was not accepted"),
        /** 401 with the RFC 9470 {@code insufficient_user_authentication} challenge. */
        INSUFFICIENT_AUTHENTICATION(401, "insufficient-authentication",
                "A stronger authentication is required"),
        /** 503: the verifier cannot decide safely right now (fail closed). */
        UNAVAILABLE(503, "verifier-unavailable", "Token verification is temporarily unavailable");

        private final int httpStatus;
        private final String slug;
        private final String title;

        Category(int httpStatus, String slug, String title) {
            this.httpStatus = httpStatus;
            this.slug = slug;
            this.title = title;
        }

        /** The HTTP status code. */
        public int httpStatus() {
            return httpStatus;
        }

        /** The RFC 9457 problem {@code type}, {@code https://m2mfa.dev/problems/<slug>}. */
        public String problemType() {
            return "https://m2mfa.dev/problems/" + slug;
        }

        /** The RFC 9457 problem {@code title}; also the exception's message. */
        public String title() {
            return title;
        }
    }

    static final String INVALID_TOKEN_CHALLENGE = "DPoP error=\"invalid_token\", algs=\"ES256\"";

    private final Reason reason;
    private final String challenge;

    private TokenRejectedException(Reason reason, String challenge) {
        super(reason.category().title(), null, false, false);
        this.reason = reason;
        this.challenge = challenge;
    }

    /** A refusal of the token itself (401 invalid_token) or a stale verifier (503). */
    static TokenRejectedException of(Reason reason) {
        return switch (reason.category()) {
            case INVALID_TOKEN -> new TokenRejectedException(reason, INVALID_TOKEN_CHALLENGE);
            case UNAVAILABLE -> new TokenRejectedException(reason, null);
            case INSUFFICIENT_AUTHENTICATION -> throw new IllegalArgumentException(
                    "An insufficient-authentication refusal needs its challenge; use insufficient().");
        };
    }

    /**
     * A step-up refusal (RFC 9470). {@code acceptableAcrs} are the acr values, weakest first,
     * that would satisfy the route (empty when the route sets no minimum); {@code requiredAmr}
     * the factors the route requires. Both come from configuration, whose names the builders
     * restrict to characters safe inside a quoted string.
     */
    static TokenRejectedException insufficient(Reason reason, List<String> acceptableAcrs,
            Collection<String> requiredAmr) {
        if (reason.category() != Category.INSUFFICIENT_AUTHENTICATION) {
            throw new IllegalArgumentException("Only INSUFFICIENT_* reasons carry a step-up challenge.");
        }
        StringBuilder c = new StringBuilder("DPoP error=\"insufficient_user_authentication\"");
        c.append(", error_description=\"").append(Category.INSUFFICIENT_AUTHENTICATION.title()).append('"');
        if (!acceptableAcrs.isEmpty()) {
            c.append(", acr_values=\"").append(String.join(" ", acceptableAcrs)).append('"');
        }
        if (!requiredAmr.isEmpty()) {
            // Not in RFC 9470: an m2mfa extension parameter telling the agent which factors to
            // present. It repeats the route's policy, which the client needs, nothing else.
            c.append(", amr_values=\"").append(String.join(" ", new TreeSet<>(requiredAmr))).append('"');
        }
        c.append(", algs=\"ES256\"");
        return new TokenRejectedException(reason, c.toString());
    }

    /** Which check failed. For logs and metrics; never send it to the client. */
    public Reason reason() {
        return reason;
    }

    /** The status, problem type and title the client may see. */
    public Category category() {
        return reason.category();
    }

    /** The HTTP status to answer with: 401 or 503. */
    public int httpStatus() {
        return reason.httpStatus();
    }

    /** The {@code WWW-Authenticate} header value to send, if any (none for 503). */
    public Optional<String> wwwAuthenticate() {
        return Optional.ofNullable(challenge);
    }
}
