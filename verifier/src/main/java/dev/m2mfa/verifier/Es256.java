package dev.m2mfa.verifier;

import com.nimbusds.jose.JOSEException;
import com.nimbusds.jose.crypto.ECDSAVerifier;
import com.nimbusds.jose.jwk.ECKey;
import java.security.Provider;
import org.bouncycastle.jce.provider.BouncyCastleProvider;

/**
 * Builds ES256 (ECDSA P-256, SHA-256) signature verifiers on one JCA provider.
 *
 * <p>The provider is BouncyCastle, passed per verifier and never registered in
 * {@link java.security.Security}, so the host service's providers are untouched. It was chosen
 * by measurement ({@code Es256ProviderBenchmarkTest}): on the 2-core build machine BC verifies
 * ES256 several times faster than the JDK 25 provider, whose P-256 arithmetic is plain Java.
 */
final class Es256 {

    static final Provider PROVIDER = new BouncyCastleProvider();

    private Es256() {
    }

    static ECDSAVerifier verifier(ECKey publicKey) throws JOSEException {
        ECDSAVerifier v = new ECDSAVerifier(publicKey);
        v.getJCAContext().setProvider(PROVIDER);
        return v;
    }
}
