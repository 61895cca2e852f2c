//! The weekly synthesis for ANSM (`reports/<yyyy>-W<ww>/synthese.html` and `.csv` in the lake):
//! levels and their change since last week, the references in vigilance or worse with every
//! figure, charts of stock and projection, a heat map over the weeks, the groups, the files of
//! the week and the declarants who did not declare.

mod csv;
mod html;
mod load;
mod svg;
mod synthesis;
mod week;

pub use csv::render_csv;
pub use html::{escape, render_html};
pub use load::{ReportError, ReportOutcome, headline, load_input, write_report};
pub use synthesis::{
    AwaitedManufacturer, FileCounts, HeatRow, ReferenceRow, ReportInput, SilentDeclarant,
    SnapshotPoint, Synthesis, SynthesisError, WEEKS_SHOWN, synthesise,
};
pub use week::{Week, WeekError};
