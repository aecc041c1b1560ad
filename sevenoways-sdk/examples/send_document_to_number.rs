//! Sends a document (by public URL) to a phone number, then asks the queue how it went.
//!
//! The phone number may be typed as people write it (`+971 50 123 4567`); it is
//! normalised to the API's digits-only form (`971501234567`) before sending.
//!
//! Run:
//!
//! ```text
//! export SEVENOWAYS_API_KEY=your-api-key
//! export SEVENOWAYS_BASE_URL=http://127.0.0.1:8080   # optional; default https://sevenoways.app
//! cargo run --example send_document_to_number -- number2 "+971 50 123 4567" \
//!     https://example.com/contract.pdf "Contract.pdf" application/pdf
//! ```
//!
//! FILENAME defaults to the last part of the URL; MIMETYPE is optional.

use std::process::ExitCode;
use std::time::Duration;

use sevenoways_sdk::models::messages::SendNumberDocumentRequest;
use sevenoways_sdk::{Client, MediaUrl, Phone};

const USAGE: &str = "usage: cargo run --example send_document_to_number -- INSTANCE_ID PHONE FILE_URL [FILENAME] [MIMETYPE]";

#[tokio::main]
async fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [instance, phone, file_url, rest @ ..] = args.as_slice() else {
        eprintln!("{USAGE}");
        return ExitCode::from(2);
    };

    let client = match client_from_env() {
        Ok(client) => client,
        Err(code) => return code,
    };

    let request = (|| {
        let file_url = MediaUrl::for_field(file_url, "fileUrl")?;
        let filename = match rest.first() {
            Some(name) => name.clone(),
            None => file_url
                .to_url()
                .path_segments()
                .and_then(|mut s| s.next_back())
                .filter(|s| !s.is_empty())
                .unwrap_or("document")
                .to_owned(),
        };
        let mut request = SendNumberDocumentRequest::new(
            instance.parse()?,
            Phone::normalize(phone)?,
            file_url,
            filename,
        );
        request.mimetype = rest.get(1).cloned();
        sevenoways_sdk::Validate::validate(&request)?;
        Ok::<_, sevenoways_sdk::ValidationError>(request)
    })();
    let request = match request {
        Ok(request) => request,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(2);
        }
    };

    let queued = match client.messages().send_number_document(&request).await {
        Ok(queued) => queued,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::FAILURE;
        }
    };
    println!(
        "queued {} for {} (queueId {})",
        request.filename, request.phone, queued.queue_id
    );

    // The send is queued, not yet delivered: follow it for a few seconds.
    for _ in 0..5 {
        tokio::time::sleep(Duration::from_secs(1)).await;
        match client.queue().status(queued.queue_id).await {
            Ok(entry) => {
                println!("status: {}", entry.status.as_str());
                if let Some(error) = &entry.error {
                    println!("  last error: {error}");
                }
                if entry.status.is_final() {
                    break;
                }
            }
            Err(e) => {
                eprintln!("could not read the queue entry: {e}");
                break;
            }
        }
    }
    ExitCode::SUCCESS
}

/// `Client::from_env()`, with a clear message when the key is not set.
fn client_from_env() -> Result<Client, ExitCode> {
    if std::env::var_os("SEVENOWAYS_API_KEY").is_none() {
        eprintln!(
            "error: SEVENOWAYS_API_KEY is not set.\n\
             Export your API key (and SEVENOWAYS_BASE_URL for a server other than \
             https://sevenoways.app), then run the example again."
        );
        return Err(ExitCode::from(2));
    }
    Client::from_env().map_err(|e| {
        eprintln!("error: {e}");
        ExitCode::from(2)
    })
}
