package dev.m2mfa.agent.keys;

import java.nio.file.Path;
import java.util.List;
import java.util.Map;

class SoftwareKeyProviderContractTest extends KeyProviderContract {
  static final String PASS = "software-contract-passphrase";

  @Override
  KeyProvider provider() {
    return new SoftwareKeyProvider();
  }

  @Override
  KeyContext context(Path stateDir) {
    return KeyContext.of(stateDir, Map.of(), KeyContext.Secrets.fixed(PASS.toCharArray()));
  }

  @Override
  List<String> secretsInContext() {
    return List.of(PASS);
  }

  @Override
  boolean keyBytesStayInProvider() {
    return false;
  }
}
