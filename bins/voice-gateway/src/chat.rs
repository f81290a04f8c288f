//! `voice-gateway chat`: talk to the receptionist in the terminal. The call is a real one in
//! text (`call_pipeline::TextCall`): the same conversation manager, CRM tools, prompt, session
//! and call record as a phone call, with the LLM when `OPENAI_API_KEY` is set and the offline
//! agent otherwise. What it books is booked.

use std::{collections::HashMap, io::Write, sync::Arc, time::Duration};

use anyhow::Context;
use call_pipeline::{CallStatus, TextCall, TextEvent};
use tokio::io::{AsyncBufRead, AsyncBufReadExt};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use crate::{
    app::{self, Clock, Overrides},
    config::Config,
};

/// The longest wait for the agent's answer to a line before the next line is read anyway.
const REPLY_WAIT: Duration = Duration::from_secs(30);

/// Which outbound flow to play, with the customer as the callee.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub(crate) enum OutboundKind {
    /// A reminder of the customer's next appointment.
    Reminder,
    /// A follow-up after a visit (`--service` and `--starts-at`, or `--appointment`).
    FollowUp,
    /// A vehicle due for a service (`--service`, default oil change).
    ServiceDue,
}

/// What `chat` was asked to play.
#[derive(Debug, Clone, Default, clap::Args)]
pub(crate) struct ChatArgs {
    /// The caller's number: a customer's (the demo's John Smith is +14135550100) or a new one;
    /// `anonymous` for a withheld number. Default: a number the CRM does not know.
    #[arg(long)]
    pub(crate) from: Option<String>,
    /// Play an outbound call instead, to `--to`.
    #[arg(long, value_enum)]
    pub(crate) outbound: Option<OutboundKind>,
    /// The customer an outbound call goes to.
    #[arg(long)]
    pub(crate) to: Option<String>,
    /// The appointment an outbound call is about (default: the customer's next one).
    #[arg(long)]
    pub(crate) appointment: Option<i64>,
    /// The service a follow-up or service-due call is about.
    #[arg(long)]
    pub(crate) service: Option<String>,
    /// When the visit a follow-up asks about was (RFC 3339).
    #[arg(long)]
    pub(crate) starts_at: Option<String>,
    /// Also print the conversation's state and intent after each turn.
    #[arg(long)]
    pub(crate) show_state: bool,
    /// Print each line typed (on by default when the input is not a terminal).
    #[arg(long)]
    pub(crate) echo: bool,
}

/// A number no demo customer has: `chat` without `--from` is a new caller.
const NEW_CALLER: &str = "+15555550199";

/// Runs one text call with lines from `input`, the transcript to `output`.
pub(crate) async fn chat(
    config: Config,
    args: ChatArgs,
    clock: Option<Clock>,
    input: impl AsyncBufRead + Unpin,
    mut output: impl Write,
) -> anyhow::Result<CallStatus> {
    // Patterns and the learned model are ready before the call, as for `serve`.
    conversation::warm_up_intent_model();
    let llm_mode = if config.openai_api_key.is_some() {
        format!("the language model {}", config.openai_model)
    } else {
        "the offline agent (no OPENAI_API_KEY)".to_owned()
    };
    let built = app::build(
        config,
        Overrides {
            now: clock,
            ..Overrides::default()
        },
        None,
    )
    .await?;
    let state = built.state;
    let shutdown = CancellationToken::new();
    let outbox = tokio::spawn(built.outbox.run(shutdown.clone()));
    let parameters = parameters(&state, &args).await?;
    writeln!(
        output,
        "{}'s receptionist, answered by {llm_mode}. One line per turn; Ctrl-D hangs up.",
        state.shop.name
    )?;
    let started = start_text_call(
        &state,
        parameters,
        None,
        Duration::from_secs(600),
        &shutdown,
    )?;
    let (call_sid, running, mut caller) = (started.call_sid, started.running, started.caller);

    let echo = args.echo || !std::io::IsTerminal::is_terminal(&std::io::stdin());
    let mut lines = input.lines();
    let mut to_call = Some(caller.lines);
    let mut escalating = false;
    // The greeting first.
    let mut open = answered(&mut caller.events, &mut output, &args, &mut escalating).await?;
    while open {
        if escalating || to_call.is_none() {
            // The call is being handed over or hung up: show the rest until it ends.
            open = shown(
                caller.events.recv().await,
                &mut output,
                &args,
                &mut escalating,
            )?;
            continue;
        }
        tokio::select! {
            line = lines.next_line() => {
                let line = line.context("reading the input")?;
                match line.as_deref().map(str::trim) {
                    None | Some("/quit") => to_call = None,
                    Some("") => {}
                    Some(line) => {
                        if echo {
                            writeln!(output, "you> {line}")?;
                        }
                        if let Some(to_call) = &to_call
                            && to_call.send(line.to_owned()).await.is_err()
                        {
                            break;
                        }
                        open = answered(&mut caller.events, &mut output, &args, &mut escalating).await?;
                    }
                }
            }
            event = caller.events.recv() => {
                open = shown(event, &mut output, &args, &mut escalating)?;
            }
        }
    }
    drop(to_call);
    let outcome = running.await.context("the text call panicked")?;
    shutdown.cancel();
    outbox.await.context("the record writer panicked")?;
    writeln!(
        output,
        "[call {} ended: {}]",
        call_sid,
        outcome.status.as_str()
    )?;
    Ok(outcome.status)
}

/// A text call that is running.
pub(crate) struct StartedTextCall {
    pub(crate) call_sid: String,
    pub(crate) running: tokio::task::JoinHandle<call_pipeline::CallOutcome>,
    pub(crate) caller: call_pipeline::TextCaller,
}

/// Starts a text call with `state`'s CRM, sessions and records, `observer` seeing it too (the
/// console's live view); a caller silent for `patience` is asked whether they are still there,
/// and the call ends half that later.
pub(crate) fn start_text_call(
    state: &app::AppState,
    parameters: HashMap<String, String>,
    observer: Option<Arc<dyn call_pipeline::CallObserver>>,
    patience: Duration,
    shutdown: &CancellationToken,
) -> anyhow::Result<StartedTextCall> {
    let call_sid = format!("CH{}", uuid::Uuid::new_v4().simple());
    let (call, caller) = TextCall::new(&call_sid, parameters);
    let mut deps = state.text_call_deps(&call)?;
    if let Some(extra) = observer {
        deps.observer = Some(match deps.observer.take() {
            Some(own) => Arc::new(crate::console::hub::Both(own, extra)),
            None => extra,
        });
    }
    let pipeline = Arc::new(call_pipeline::PipelineConfig {
        // Nobody is timing a typist: no check-in after ten seconds, and no audio to wait for.
        silence_check_in: patience,
        silence_hang_up: patience / 2,
        idle_media_timeout: Duration::from_secs(24 * 3600),
        ..(*state.pipeline).clone()
    });
    let shutdown = shutdown.clone();
    let running = tokio::spawn(async move { call.run(deps, pipeline, &shutdown).await });
    Ok(StartedTextCall {
        call_sid,
        running,
        caller,
    })
}

/// Waits until the agent has answered and given the floor back (or the call ended, or
/// `REPLY_WAIT` passed), printing what comes.
/// Returns whether the call is still on.
async fn answered(
    events: &mut mpsc::UnboundedReceiver<TextEvent>,
    output: &mut impl Write,
    args: &ChatArgs,
    escalating: &mut bool,
) -> anyhow::Result<bool> {
    let deadline = tokio::time::sleep(REPLY_WAIT);
    tokio::pin!(deadline);
    loop {
        tokio::select! {
            event = events.recv() => {
                let floor_back = matches!(event, Some(TextEvent::Listening));
                if !shown(event, output, args, escalating)? {
                    return Ok(false);
                }
                if floor_back {
                    return Ok(true);
                }
            }
            () = &mut deadline => return Ok(true),
        }
    }
}

/// Prints one event; false when the call is over.
fn shown(
    event: Option<TextEvent>,
    output: &mut impl Write,
    args: &ChatArgs,
    escalating: &mut bool,
) -> anyhow::Result<bool> {
    match event {
        None => return Ok(false),
        Some(TextEvent::Agent(text)) => writeln!(output, "agent> {text}")?,
        Some(TextEvent::Conversation { state, intent }) => {
            *escalating |= state == "escalation";
            if args.show_state {
                let intent = intent.as_deref().unwrap_or("none");
                writeln!(output, "  [state: {state}, intent: {intent}]")?;
            }
        }
        Some(TextEvent::Transferred) => {
            writeln!(output, "[the call is handed to a service advisor]")?;
        }
        Some(TextEvent::HungUp) => writeln!(output, "[the agent hung up]")?,
        Some(TextEvent::Listening) => {}
    }
    Ok(true)
}

/// The stream parameters Twilio would send for this call (see `call_pipeline::outbound`).
async fn parameters(
    state: &app::AppState,
    args: &ChatArgs,
) -> anyhow::Result<HashMap<String, String>> {
    let Some(kind) = args.outbound else {
        let from = args.from.clone().unwrap_or_else(|| NEW_CALLER.to_owned());
        return Ok(HashMap::from([("From".to_owned(), from)]));
    };
    let to = args
        .to
        .clone()
        .or_else(|| args.from.clone())
        .context("an outbound chat needs --to, a customer's number")?;
    let crm = state
        .crm_store
        .as_ref()
        .context("an outbound chat needs the database")?;
    let customer = crm
        .lookup_customer(&to, (state.clock)())
        .await
        .context("looking up the customer")?
        .with_context(|| format!("{to} is not a customer (try seed-demo and +14135550100)"))?;
    let (call_type, mut parameters) = match kind {
        OutboundKind::Reminder => {
            let appointment = args
                .appointment
                .or_else(|| customer.upcoming_appointments.first().map(|a| a.id))
                .context("the customer has no upcoming appointment to remind of")?;
            (
                "outbound_reminder",
                HashMap::from([("appointment_id".to_owned(), appointment.to_string())]),
            )
        }
        OutboundKind::FollowUp => {
            let mut parameters = HashMap::new();
            if let Some(id) = args.appointment {
                parameters.insert("appointment_id".to_owned(), id.to_string());
            }
            let service = args
                .service
                .clone()
                .or_else(|| args.appointment.is_none().then(|| "oil change".to_owned()));
            if let Some(service) = service {
                parameters.insert("service".to_owned(), service);
            }
            if let Some(at) = &args.starts_at {
                parameters.insert("starts_at".to_owned(), at.clone());
            }
            ("outbound_follow_up", parameters)
        }
        OutboundKind::ServiceDue => (
            "outbound_service_due",
            HashMap::from([(
                "service".to_owned(),
                args.service
                    .clone()
                    .unwrap_or_else(|| "oil change".to_owned()),
            )]),
        ),
    };
    parameters.extend([
        ("direction".to_owned(), "outbound-api".to_owned()),
        ("To".to_owned(), customer.phone.clone()),
        ("call_type".to_owned(), call_type.to_owned()),
    ]);
    Ok(parameters)
}

#[cfg(test)]
mod tests;
