"""``python -m procflow_portal_http --port 8089 --fail-rate 0.3``: run the portal simulator on its own."""

from procflow_portal_http.simulator import main

main()
