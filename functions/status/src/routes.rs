//! The API's routes, from the request path (as API Gateway's HTTP API passes it, stage-less on `$default`).

/// A request the API answers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Route {
    Jobs,
    Job(String),
    Rows(String),
    Row(String, String),
    Report(String),
    Retry(String),
    Undo(String),
}

/// Every route as the OpenAPI document writes it.
pub const TEMPLATES: [&str; 7] = [
    "/jobs",
    "/jobs/{id}",
    "/jobs/{id}/rows",
    "/jobs/{id}/rows/{row}",
    "/jobs/{id}/report",
    "/jobs/{id}/retry",
    "/jobs/{id}/undo",
];

impl Route {
    pub fn parse(path: &str) -> Option<Self> {
        let segments: Vec<&str> = path.trim_matches('/').split('/').collect();
        let id = |s: &str| Some(s.to_owned()).filter(|s| !s.is_empty());
        match segments.as_slice() {
            ["jobs"] => Some(Route::Jobs),
            ["jobs", job] => Some(Route::Job(id(job)?)),
            ["jobs", job, "rows"] => Some(Route::Rows(id(job)?)),
            ["jobs", job, "rows", row] => Some(Route::Row(id(job)?, id(row)?)),
            ["jobs", job, "report"] => Some(Route::Report(id(job)?)),
            ["jobs", job, "retry"] => Some(Route::Retry(id(job)?)),
            ["jobs", job, "undo"] => Some(Route::Undo(id(job)?)),
            _ => None,
        }
    }

    /// The route's template, as in the OpenAPI document.
    pub fn template(&self) -> &'static str {
        match self {
            Route::Jobs => TEMPLATES[0],
            Route::Job(_) => TEMPLATES[1],
            Route::Rows(_) => TEMPLATES[2],
            Route::Row(..) => TEMPLATES[3],
            Route::Report(_) => TEMPLATES[4],
            Route::Retry(_) => TEMPLATES[5],
            Route::Undo(_) => TEMPLATES[6],
        }
    }

    /// The one method the route answers: the reads are GETs; a retry or an undo changes things.
    pub fn method(&self) -> &'static str {
        match self {
            Route::Retry(_) | Route::Undo(_) => "POST",
            _ => "GET",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_become_routes() {
        assert_eq!(Route::parse("/jobs"), Some(Route::Jobs));
        assert_eq!(Route::parse("/jobs/"), Some(Route::Jobs));
        assert_eq!(Route::parse("/jobs/abc"), Some(Route::Job("abc".into())));
        assert_eq!(Route::parse("/jobs/abc/rows"), Some(Route::Rows("abc".into())));
        assert_eq!(Route::parse("/jobs/abc/rows/17"), Some(Route::Row("abc".into(), "17".into())));
        assert_eq!(Route::parse("/jobs/abc/report"), Some(Route::Report("abc".into())));
        assert_eq!(Route::parse("/jobs/abc/retry"), Some(Route::Retry("abc".into())));
        assert_eq!(Route::parse("/jobs/abc/undo"), Some(Route::Undo("abc".into())));
        assert_eq!(Route::parse("/jobs//rows"), None);
        assert_eq!(Route::parse("/jobz"), None);
        assert_eq!(Route::parse("/jobs/abc/rows/17/x"), None);
    }
}
