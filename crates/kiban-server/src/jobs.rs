//! Long operations (linkage, a release) run in the background: the request that starts one returns at
//! once with the job's number, and its owner follows it on `/jobs/{id}` (a page that refreshes itself)
//! or `GET /api/v1/jobs/{id}`. Only the user who started a job sees it. Jobs live in the server's
//! memory: a restarted server forgets them, while what they did is in the store and the audit log.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use chrono::{DateTime, Utc};
use kiban_service::{App, Request, Response, Session};

/// Where a job stands.
#[derive(Clone, Debug)]
pub(crate) enum JobState {
    Running,
    /// Finished: a one-line summary and, where there is one, the page of what it made.
    Done {
        summary: String,
        link: Option<String>,
    },
    Failed {
        code: &'static str,
        message: String,
    },
}

impl JobState {
    pub(crate) fn name(&self) -> &'static str {
        match self {
            JobState::Running => "running",
            JobState::Done { .. } => "done",
            JobState::Failed { .. } => "failed",
        }
    }
}

#[derive(Clone, Debug)]
pub(crate) struct Job {
    pub(crate) id: u64,
    pub(crate) owner: String,
    /// What the job does (the action's name).
    pub(crate) kind: &'static str,
    pub(crate) started_at: DateTime<Utc>,
    pub(crate) finished_at: Option<DateTime<Utc>>,
    pub(crate) state: JobState,
    /// The step the operation last started: its name, number (from 1) and the number of steps.
    pub(crate) step: Option<(&'static str, usize, usize)>,
}

#[derive(Default)]
pub(crate) struct Jobs {
    next: AtomicU64,
    jobs: Mutex<HashMap<u64, Job>>,
}

impl Jobs {
    /// Starts `request` for `session` on the blocking pool; returns the job's number. `describe` turns
    /// the response into the job's summary and link.
    pub(crate) fn start(
        self: &Arc<Self>,
        app: &Arc<App>,
        session: Session,
        request: Request,
        describe: fn(&Response) -> (String, Option<String>),
    ) -> u64 {
        let id = self.next.fetch_add(1, Ordering::Relaxed) + 1;
        let job = Job {
            id,
            owner: session.user().to_owned(),
            kind: request.action().name(),
            started_at: app.now(),
            finished_at: None,
            state: JobState::Running,
            step: None,
        };
        self.lock().insert(id, job);
        let (jobs, app) = (Arc::clone(self), Arc::clone(app));
        tokio::task::spawn_blocking(move || {
            let observed = Arc::clone(&jobs);
            let observe = move |name: &'static str, number: usize, total: usize| {
                if let Some(job) = observed.lock().get_mut(&id) {
                    job.step = Some((name, number, total));
                }
            };
            let state = match app.execute_observed(&session, request, &observe) {
                Ok(response) => {
                    let (summary, link) = describe(&response);
                    JobState::Done { summary, link }
                }
                Err(error) => {
                    JobState::Failed { code: error.code().as_str(), message: error.message().to_owned() }
                }
            };
            if let Some(job) = jobs.lock().get_mut(&id) {
                job.state = state;
                job.finished_at = Some(app.now());
            }
        });
        id
    }

    /// The job `id` if `user` started it.
    pub(crate) fn get(&self, id: u64, user: &str) -> Option<Job> {
        self.lock().get(&id).filter(|job| job.owner == user).cloned()
    }

    /// The jobs `user` started, newest first.
    pub(crate) fn of(&self, user: &str) -> Vec<Job> {
        let mut jobs: Vec<Job> = self.lock().values().filter(|job| job.owner == user).cloned().collect();
        jobs.sort_by_key(|job| std::cmp::Reverse(job.id));
        jobs
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<u64, Job>> {
        self.jobs.lock().unwrap_or_else(PoisonError::into_inner)
    }
}
