package dev.m2mfa.verifier;

import com.nimbusds.jose.JOSEException;
import com.nimbusds.jose.crypto.ECDSAVerifier;
import com.nimbusds.jose.jwk.ECKey;
import java.security.GeneralSecurityException;
import java.security.KeyFactory;
import java.security.Provider;
import java.security.interfaces.ECPublicKey;
import java.security.spec.X509EncodedKeySpec;
import org.bouncycastle.jce.provider.BouncyCastleProvider;

/**
 * Builds ES256 (ECDSA P-256, SHA-256) signature verifiers on BouncyCastle.
 *
 * <p>The provider is passed per verifier and never registered in {@link java.security.Security},
 * so the host service's providers are untouched. It was chosen by measurement
 * (JMH {@code dev.m2mfa.bench.Es256ProviderBenchmark} and an earlier one-thread run through Nimbus {@code ECDSAVerifier}, the
 * providers alternating in one run on the 2-core build machine, December 2026): JDK 25
 * about 1,160 verifications/s, BC about 7,200/s (6.2x). BC must be given its own key object:
 * handed the JDK's, it converts the key on every verification and manages only about 3,200/s.
 */
final class Es256 {

    static final Provider PROVIDER = new BouncyCastleProvider();

    private Es256() {
    }

    /**
     * A verifier for {@code publicKey} on BC. The key is turned into BC's own key object once
     * here; given the JDK's, BC would convert it on every verification.
     */
    static ECDSAVerifier verifier(ECKey publicKey) throws JOSEException {
        ECPublicKey key;
        try {
            key = (ECPublicKey) KeyFactory.getInstance("EC", PROVIDER)
                    .generatePublic(new X509EncodedKeySpec(publicKey.toECPublicKey().getEncoded()));
        } catch (GeneralSecurityException e) {
            throw new JOSEException("Not a usable EC public key.", e);
        }
        ECDSAVerifier v = new ECDSAVerifier(key);
        v.getJCAContext().setProvider(PROVIDER);
        return v;
    }
}
