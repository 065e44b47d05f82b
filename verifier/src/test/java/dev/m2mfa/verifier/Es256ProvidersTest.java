package dev.m2mfa.verifier;

import static org.assertj.core.api.Assertions.assertThat;

import com.nimbusds.jose.JOSEException;
import com.nimbusds.jose.JWSAlgorithm;
import com.nimbusds.jose.JWSHeader;
import com.nimbusds.jose.crypto.ECDSASigner;
import com.nimbusds.jose.crypto.ECDSAVerifier;
import com.nimbusds.jose.jwk.ECKey;
import com.nimbusds.jose.util.Base64URL;
import java.io.File;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

/**
 * ES256 verification on the JDK's provider and on BouncyCastle, through the same Nimbus
 * {@link ECDSAVerifier} the token verifier uses: both must give the same answers. Which is
 * faster is measured by the JMH benchmark {@code dev.m2mfa.bench.Es256ProviderBenchmark}
 * (docs/PERFORMANCE.md); {@link Es256} uses the winner.
 */
class Es256ProvidersTest {

    static final byte[] INPUT = ("eyJhbGciOiJFUzI1NiIsInR5cCI6ImF0K2p3dCIsImtpZCI6ImsxIn0."
            + "eyJpc3MiOiJzcGlmZmU6Ly9tMm1mYS5sb2NhbCIsInN1YiI6InNwaWZmZTovL20ybWZhLmxvY2FsL21hY2hpbmUvd2ViLTEifQ")
            .getBytes(StandardCharsets.US_ASCII);
    static final JWSHeader HEADER = new JWSHeader(JWSAlgorithm.ES256);

    static ECDSAVerifier jdk(ECKey key) throws JOSEException {
        return new ECDSAVerifier(key.toPublicJWK());
    }

    static ECDSAVerifier bc(ECKey key) throws JOSEException {
        return Es256.verifier(key.toPublicJWK());
    }

    /** BC, but handed the JDK's key object, which it converts on every initVerify. */
    static ECDSAVerifier bcWithJdkKey(ECKey key) throws JOSEException {
        ECDSAVerifier v = new ECDSAVerifier(key.toPublicJWK());
        v.getJCAContext().setProvider(Es256.PROVIDER);
        return v;
    }

    @Test
    void bothProvidersGiveTheSameAnswers() throws Exception {
        ECKey key = Mint.newKey("k");
        Base64URL sig = new ECDSASigner(key).sign(HEADER, INPUT);
        byte[] flipped = sig.decode();
        flipped[10] ^= 1;
        byte[] zeros = new byte[64]; // r = s = 0: the "psychic signature" (CVE-2022-21449)
        byte[] input2 = INPUT.clone();
        input2[0] ^= 1;
        for (ECDSAVerifier v : List.of(jdk(key), bc(key))) {
            assertThat(v.verify(HEADER, INPUT, sig)).isTrue();
            assertThat(v.verify(HEADER, input2, sig)).isFalse();
            assertThat(v.verify(HEADER, INPUT, Base64URL.encode(flipped))).isFalse();
            assertThat(v.verify(HEADER, INPUT, Base64URL.encode(zeros))).isFalse();
            assertThat(v.verify(HEADER, INPUT, Base64URL.encode(new byte[63]))).isFalse();
        }
        assertThat(bc(key).getJCAContext().getProvider().getName()).isEqualTo("BC");
        // BC's own key object, so BC does not convert the key on every verification
        assertThat(bc(key).getPublicKey().getClass().getName()).startsWith("org.bouncycastle.");
    }
}
