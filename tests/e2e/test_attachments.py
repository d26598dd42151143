"""A customer attaches files in the thread composer (picker and drag-and-drop) and sees the image's thumbnail."""
from __future__ import annotations

import base64

from playwright.sync_api import expect

from tests import sample_files
from tests.e2e.conftest import screenshot, sign_in

WAIT_MS = 15_000


def open_order_thread(page) -> None:
    sign_in(page, "/inbox/alpine/login", "alice@customer.example")
    page.wait_for_url("**/inbox/alpine/")
    page.click("text=Where is my order #1042?")
    page.wait_for_url("**/inbox/alpine/conversations/*")


def drop_file(page, name: str, data: bytes, mime: str) -> None:
    """Drag a file from the desktop onto the composer, as the browser delivers it."""
    page.evaluate(
        """([name, b64, mime]) => {
            const bytes = Uint8Array.from(atob(b64), c => c.charCodeAt(0));
            const transfer = new DataTransfer();
            transfer.items.add(new File([bytes], name, {type: mime}));
            const target = document.querySelector('#composer textarea');
            for (const type of ['dragenter', 'dragover', 'drop']) {
                target.dispatchEvent(new DragEvent(type, {bubbles: true, cancelable: true, dataTransfer: transfer}));
            }
        }""",
        [name, base64.b64encode(data).decode(), mime],
    )


def test_customer_attaches_an_image_and_a_pdf_and_sees_the_thumbnail(browser, live_server, page):
    open_order_thread(page)
    photo = sample_files.image("PNG", size=(800, 600))
    page.set_input_files("#composer input[type=file]", files=[
        {"name": "jacket.png", "mimeType": "image/png", "buffer": photo},
        {"name": "empty.txt", "mimeType": "text/plain", "buffer": b""},
    ])
    drop_file(page, "receipt.pdf", sample_files.pdf(), "application/pdf")
    chosen = page.locator("#composer .attach-list")
    expect(chosen).to_contain_text("jacket.png")
    expect(chosen).to_contain_text("receipt.pdf")
    expect(chosen.locator(".attach-refused")).to_have_text("empty.txt: the file is empty.")
    assert page.evaluate("document.querySelector('#composer input[type=file]').files.length") == 2
    screenshot(page, "attachments-composer-chosen")

    # Record what the progress bar showed during the upload (this listener runs after the page's own).
    page.evaluate("""() => {
        window.__progress = [];
        document.addEventListener('htmx:xhr:progress', (event) => {
            if (event.target.id !== 'composer') return;  // polls for new messages report progress too
            const bar = event.target.querySelector('.attach-progress');
            window.__progress.push([bar.hidden, bar.value]);
        });
    }""")
    page.fill("#content", "Here is a photo of the jacket and my receipt")
    page.click("#composer button[type=submit]")

    message = page.locator("#messages li.message", has_text="Here is a photo of the jacket")
    thumbnail = message.locator(".attachment-image img")
    expect(thumbnail).to_be_visible(timeout=WAIT_MS)
    page.wait_for_function(
        "img => img.complete && img.naturalWidth === 320 && img.naturalHeight === 240",
        arg=thumbnail.element_handle(),
    )
    expect(message.locator(".attachment-caption")).to_contain_text("jacket.png · 800 × 600 px")
    expect(message.locator(".attachment-file")).to_contain_text("receipt.pdf")
    expect(message.locator(".attachment-file")).to_contain_text("PDF document")
    progress = page.evaluate("window.__progress")
    assert progress and progress[-1] == [False, 100], progress
    # The composer is fresh for the next message.
    expect(page.locator("#composer .attach-list li")).to_have_count(0)
    screenshot(page, "attachments-thread-thumbnail")

    # A click on the thumbnail opens the full image in a new tab.
    with page.context.expect_page() as opened:
        message.locator(".attachment-image").click()
    full = opened.value
    full.wait_for_load_state()
    assert full.evaluate("document.contentType") == "image/png"
    assert full.evaluate("document.images[0].naturalWidth") == 800
    full.close()


def test_the_server_refusal_of_a_disguised_file_is_shown_in_the_composer(browser, live_server, page):
    open_order_thread(page)
    page.set_input_files("#composer input[type=file]", files=[
        {"name": "photo.png", "mimeType": "image/png", "buffer": sample_files.EXECUTABLE},
    ])
    page.fill("#content", "Look at this")
    page.click("#composer button[type=submit]")
    refusal = page.locator("#composer .attach-server-refusals")
    expect(refusal).to_contain_text("photo.png: this kind of file is not accepted", timeout=WAIT_MS)
    expect(page.locator("#content")).to_have_value("Look at this")
    expect(page.locator("#messages")).not_to_contain_text("Look at this")
    screenshot(page, "attachments-composer-refused")


def test_of_three_files_one_refused_the_message_goes_with_the_two_after_the_author_confirms(browser, live_server,
                                                                                            page):
    open_order_thread(page)
    page.fill("#composer textarea", "The photo, the invoice and a tool")
    page.set_input_files("#composer input[type=file]", files=[
        {"name": "jacket.jpg", "mimeType": "image/jpeg", "buffer": sample_files.image("JPEG", size=(200, 100))},
        {"name": "invoice.pdf", "mimeType": "application/pdf", "buffer": sample_files.pdf()},
        {"name": "setup.exe", "mimeType": "application/octet-stream", "buffer": sample_files.EXECUTABLE},
    ])
    # The browser flags the kind the server refuses before anything is uploaded.
    expect(page.locator("#composer .attach-refused")).to_have_text("setup.exe: this kind of file is not accepted.")
    # A file whose name passes but whose content does not is refused by the server: the composer keeps
    # everything and asks.
    drop_file(page, "scan.png", sample_files.EXECUTABLE, "image/png")
    page.click("#composer button[type=submit]:has-text('Send')")
    status = page.locator("#composer-status")
    expect(status).to_contain_text("scan.png: this kind of file is not accepted", timeout=WAIT_MS)
    expect(page.locator("#composer textarea")).to_have_value("The photo, the invoice and a tool")
    screenshot(page, "attachments-send-without")
    status.locator("button", has_text="Send without scan.png").click()
    sent = page.locator("#messages .message", has_text="The photo, the invoice and a tool")
    expect(sent).to_have_count(1, timeout=WAIT_MS)
    expect(sent).to_contain_text("invoice.pdf")
    expect(sent.locator("img")).to_have_count(1)
