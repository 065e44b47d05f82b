package dev.m2mfa.verifier;

import java.time.Instant;
import java.util.List;
import java.util.Objects;

/**
 * The claims of an access token that passed every check of {@link TokenVerifier#verify}: its
 * signature, issuer, audience, lifetime, revocation status, proof of possession and the
 * request's factor requirements. It holds no raw token, so neither it nor its
 * {@code toString} can leak one.
 *
 * @param subject   the machine's SPIFFE ID ({@code sub})
 * @param machine   the machine name ({@code client_id})
 * @param audience  the audience this verifier is configured for, which the token contains
 * @param amr       the factors that passed at login, in the token's order
 * @param acr       the assurance level name
 * @param expiresAt the token's {@code exp}
 * @param jti       the token's unique identifier
 */
public record VerifiedToken(String subject, String machine, String audience, List<String> amr, String acr,
        Instant expiresAt, String jti) {

    /** Copies {@code amr} and rejects nulls. */
    public VerifiedToken {
        Objects.requireNonNull(subject, "subject");
        Objects.requireNonNull(machine, "machine");
        Objects.requireNonNull(audience, "audience");
        amr = List.copyOf(amr);
        Objects.requireNonNull(acr, "acr");
        Objects.requireNonNull(expiresAt, "expiresAt");
        Objects.requireNonNull(jti, "jti");
    }
}
