package dev.m2mfa.agent.keys;

import com.nimbusds.jose.JOSEException;
import com.nimbusds.jose.JWSAlgorithm;
import com.nimbusds.jose.JWSHeader;
import com.nimbusds.jose.JWSSigner;
import com.nimbusds.jose.crypto.impl.ECDSA;
import com.nimbusds.jose.jca.JCAContext;
import com.nimbusds.jose.util.Base64URL;
import java.util.Set;

/** Adapts a {@link MachineSigner} to Nimbus's {@link JWSSigner} (ES256) without exposing the key. */
public final class JwsSigners {
  private JwsSigners() {}

  public static JWSSigner es256(MachineSigner signer) {
    return new JWSSigner() {
      private final JCAContext jca = new JCAContext();

      @Override
      public Base64URL sign(JWSHeader header, byte[] signingInput) throws JOSEException {
        if (!JWSAlgorithm.ES256.equals(header.getAlgorithm())) throw new JOSEException("only ES256");
        return Base64URL.encode(ECDSA.transcodeSignatureToConcat(signer.sign(signingInput), 64));
      }

      @Override
      public Set<JWSAlgorithm> supportedJWSAlgorithms() {
        return Set.of(JWSAlgorithm.ES256);
      }

      @Override
      public JCAContext getJCAContext() {
        return jca;
      }
    };
  }
}
