"""Reports, documents, alerts and chat confirmations in a real browser (Debian's Chromium)."""

from __future__ import annotations

import json
from typing import Any

from tests.browser.conftest import SCREENSHOTS, Site, update_screenshots
from tests.documents import samples

PLANTED = "The zebra-crossing protocol requires quarterly tabletop exercises for every team."
MARKDOWN = f"""# Incident readiness notes

## Exercises

{PLANTED}

## Budget

Readiness training costs 12,500 USD per quarter.
"""


def shoot(page: Any, name: str) -> None:
    if update_screenshots():
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(SCREENSHOTS / name), full_page=False)


def drop_file(page: Any, selector: str, name: str, text: str) -> None:
    """Drag and drop a text file onto `selector` (a DataTransfer built in the page)."""
    page.evaluate(
        """([selector, name, text]) => {
            const transfer = new DataTransfer();
            transfer.items.add(new File([text], name, { type: "text/markdown" }));
            const zone = document.querySelector(selector);
            for (const type of ["dragenter", "dragover", "drop"]) {
                zone.dispatchEvent(new DragEvent(type, { dataTransfer: transfer, bubbles: true }));
            }
        }""",
        [selector, name, text],
    )


def test_upload_by_picker_and_by_drop_then_search_and_summarize(page: Any, site: Site) -> None:
    page.goto(f"{site.url}/documents")
    page.wait_for_selector("[data-documents][data-ready=true]")

    # a PDF through the file picker: size shown, uploaded, indexed
    pdf = samples.security_report_pdf()
    page.set_input_files(
        "[data-file-input]",
        files=[{"name": "security-report.pdf", "mimeType": "application/pdf", "buffer": pdf}],
    )
    assert "security-report.pdf · " in page.text_content("[data-file-chosen]")
    assert "KiB" in page.text_content("[data-file-chosen]")
    page.click("[data-upload-button]")
    page.wait_for_selector("[data-documents][data-uploaded]")
    assert "Added Acme Security Report Q2" in page.text_content("[data-upload-status]")

    # a Markdown file dropped on the zone
    drop_file(page, "[data-dropzone]", "readiness.md", MARKDOWN)
    assert "readiness.md" in page.text_content("[data-file-chosen]")
    with page.expect_response("**/api/documents") as uploaded:
        page.click("[data-upload-button]")
    assert uploaded.value.status == 201
    page.wait_for_selector("[data-document-list] >> text=Incident readiness notes")

    # search finds the planted sentence, with its heading; the PDF passage has its page
    page.fill("[data-search-input]", "zebra-crossing tabletop")
    page.press("[data-search-input]", "Enter")
    page.wait_for_selector(".passage")
    first = page.text_content(".passage")
    assert "Incident readiness notes" in first and "tabletop" in first
    assert page.query_selector(".passage mark") is not None
    page.fill("[data-search-input]", "quantum-safe key rotation")
    page.click("[data-search-form] button[type=submit]")
    page.wait_for_selector(".passage >> text=Acme Security Report Q2")
    assert "p. 2" in page.text_content(".passage")
    page.emulate_media(color_scheme="light")
    shoot(page, "documents.png")

    # a document's summary from the library
    page.click("[data-document-list] button:has-text('Acme Security Report Q2')")
    page.wait_for_selector("[data-summary]")
    assert samples.KEY_FACT_RISK in page.text_content("[data-summary]")

    # a refused file: the server's reason, plainly
    page.set_input_files(
        "[data-file-input]",
        files=[{"name": "fake.pdf", "mimeType": "application/pdf", "buffer": b"not a pdf at all"}],
    )
    page.click("[data-upload-button]")
    page.wait_for_selector("[data-upload-status].error")
    status = page.text_content("[data-upload-status]")
    assert status.startswith("Not added:") and "PDF" in status
    refused = "the server responded with a status of 422"  # Chromium logs the refusal itself
    assert [e for e in page.console.errors if refused not in e] == []


def test_reports_page_generates_and_shows_a_report(page: Any, site: Site) -> None:
    page.goto(f"{site.url}/reports")
    page.wait_for_selector("[data-reports][data-ready=true]")
    assert "Weekly brief every Monday" in page.text_content("[data-schedule]")
    with page.expect_response("**/api/reports") as created:
        page.click("[data-generate]")
    assert created.value.status == 201
    report_id = created.value.json()["id"]
    page.wait_for_selector(f"[data-reports][data-shown='{report_id}']", timeout=30_000)
    assert page.get_attribute("iframe.report-frame", "sandbox") == ""
    frame = page.frame_locator("iframe.report-frame")
    assert "Weekly engineering brief" in frame.locator("h1").inner_text()
    assert frame.locator("svg").count() >= 1  # the charts, inline
    links = page.eval_on_selector_all("[data-report-downloads] a", "els => els.map(e => e.href)")
    assert any(link.endswith("format=pdf") for link in links)
    assert any(link.endswith("format=md") for link in links)
    pdf = page.request.get(next(link for link in links if link.endswith("format=pdf")))
    assert pdf.body().startswith(b"%PDF")
    page.keyboard.press("Tab")  # the list is keyboard reachable
    assert page.console.errors == []
    page.emulate_media(color_scheme="dark")
    page.wait_for_timeout(300)
    shoot(page, "reports.png")


def test_alerts_page_from_the_dashboard_widget(page: Any, site: Site) -> None:
    page.goto(f"{site.url}/alerts?open=false")
    page.wait_for_selector("[data-alerts][data-ready=true]")
    assert page.is_checked("[name=open]") is False
    cards = page.query_selector_all("[data-alert-id]")
    if cards:
        cards[0].query_selector("summary").click()
        assert "opened" in cards[0].text_content()
    page.emulate_media(color_scheme="light")
    shoot(page, "alerts.png")
    page.select_option("[name=severity]", "critical")
    page.wait_for_url("**/alerts?open=false&severity=critical")
    page.wait_for_selector("[data-alerts][data-ready=true]")
    for card in page.query_selector_all("[data-alert-id]"):
        assert card.get_attribute("data-severity") == "critical"
    assert page.console.errors == []


def test_chat_confirm_event_asks_before_running_the_action(page: Any, site: Site) -> None:
    """A `confirm` event shows the action in words; Confirm posts it; Cancel does nothing."""
    action = {
        "session_id": "conv-1",
        "id": "act-1",
        "tool": "create_jira_ticket",
        "arguments": {"project": "PLAT", "summary": "Rotate the leaked key"},
    }
    events = [
        ("session", {"session_id": "conv-1"}),
        ("tool", {"tool": None, "arguments": {}, "kind": "llm"}),
        ("text", {"text": "I can file a ticket for that."}),
        ("confirm", action),
        ("done", {"answer": "I can file a ticket for that.", "session_id": "conv-1"}),
    ]
    stream = "".join(f"event: {name}\ndata: {json.dumps(data)}\n\n" for name, data in events)
    confirmed: list[dict[str, Any]] = []

    def chat(route: Any) -> None:
        route.fulfill(status=200, headers={"Content-Type": "text/event-stream"}, body=stream)

    def confirm(route: Any) -> None:
        confirmed.append(json.loads(route.request.post_data))
        route.fulfill(
            status=200,
            content_type="application/json",
            body=json.dumps({"status": "ok", "summary": "Created PLAT-123.", "data": None}),
        )

    page.route("**/api/chat", chat)
    page.route("**/api/chat/confirm", confirm)
    page.goto(f"{site.url}/reports")
    page.click("[data-chat-toggle]")
    page.click("[data-chat-clear]")
    for asked in (1, 2):
        page.fill("#chat-input", "File a ticket to rotate the key")
        page.press("#chat-input", "Enter")
        # Wait for this answer, not the one before it: count the finished answers.
        page.wait_for_function(
            "n => document.querySelectorAll("
            "'[data-chat-log] .msg-assistant[data-done=true] [data-pending-action]').length >= n",
            arg=asked,
        )
    boxes = page.query_selector_all("[data-pending-action]")
    assert len(boxes) == 2
    text = boxes[0].text_content()
    assert "Create jira ticket" in text and "Rotate the leaked key" in text and "PLAT" in text
    assert confirmed == []  # nothing runs by itself

    boxes[0].query_selector("[data-cancel-action]").click()
    assert "Cancelled" in boxes[0].text_content() and confirmed == []

    button = boxes[1].query_selector("[data-confirm-action]")
    button.focus()
    page.keyboard.press("Enter")
    page.wait_for_selector("[data-pending-action][data-settled=true] >> text=Created PLAT-123.")
    assert confirmed == [{"session_id": "conv-1", "action_id": "act-1"}]
    assert page.console.errors == []
