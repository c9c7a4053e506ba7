"""For browser tests under the Content-Security-Policy."""

from __future__ import annotations

# An init script: records what the browser refused because of the policy, from before the page's
# own scripts run, in window.__cspViolations.
WATCH_VIOLATIONS = """
window.__cspViolations = [];
document.addEventListener("securitypolicyviolation", (event) => {
  window.__cspViolations.push(
    `${event.violatedDirective} ${event.blockedURI} ${event.sourceFile}:${event.lineNumber}`
  );
});
"""
