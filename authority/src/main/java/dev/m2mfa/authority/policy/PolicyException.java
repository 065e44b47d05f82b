package dev.m2mfa.authority.policy;

import java.util.List;

/** Policy files that did not load; {@link #errors()} holds every problem found, in file order. */
public final class PolicyException extends Exception {
  private static final long serialVersionUID = 1L;
  private final transient List<PolicyError> errors;

  public PolicyException(List<PolicyError> errors) {
    super(errors.isEmpty() ? "policy invalid" : errors.getFirst() + (errors.size() > 1 ? " (and " + (errors.size() - 1) + " more)" : ""));
    this.errors = List.copyOf(errors);
  }

  public List<PolicyError> errors() {
    return errors;
  }
}
