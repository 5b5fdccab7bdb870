"""Property-based run of schemathesis against the OpenAPI schema: no 5xx on any input.

Each operation gets a bounded number of generated cases (hypothesis, derandomised) so the run
stays around a minute for both databases. The project id is pinned to a real project, so cases
reach the use cases instead of stopping at 404; every other parameter and body is generated.
Operations are driven directly (not through schemathesis' pytest plugin).
"""

from __future__ import annotations

import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

MAX_EXAMPLES = 12


def test_no_server_error_on_any_generated_request(client, tenant):
    schema = schemathesis.openapi.from_asgi("/openapi.json", client.app)
    failures: list[str] = []
    n_operations = 0
    for result in schema.get_all_operations():
        operation = result.ok()
        n_operations += 1

        explicit = operation.get_strategies_from_examples()  # the schema's own examples, too
        strategy = st.one_of(operation.as_strategy(), *explicit) if explicit else operation.as_strategy()

        @given(case=strategy)
        @settings(max_examples=MAX_EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck),
                  derandomize=True, database=None)
        def exercise(case):
            if case.path_parameters and "project_id" in case.path_parameters:
                case.path_parameters["project_id"] = tenant.id
            response = case.call(headers=tenant.headers("all"))
            if response.status_code >= 500:
                failures.append(f"{case.method} {case.formatted_path}: {response.status_code} {response.text[:200]}")
            elif response.status_code >= 400 and "json" in response.headers.get("content-type", ""):
                body = response.json()
                if set(body) != {"error"} or not {"code", "message", "hint"} <= set(body["error"]):
                    failures.append(f"{case.method} {case.formatted_path}: bad error body {body}")

        exercise()
    assert n_operations >= 24
    assert failures == []
