package dev.m2mfa.agent.factor.network;

import dev.m2mfa.api.factor.FactorProver;
import java.util.Map;

/** Factor {@code network}: nothing to claim; the authority observes the source address itself. */
public final class NetworkFactorProver implements FactorProver {
  @Override
  public String name() {
    return "network";
  }

  @Override
  public Map<String, Object> prove(String machineName, Map<String, Object> challenge) {
    return Map.of();
  }
}
