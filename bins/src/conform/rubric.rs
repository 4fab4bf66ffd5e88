//! The grading rubric (TOML): weights per case, section or battery, the levels graded,
//! exclusions, and the credit each verdict earns. A default rubric ships inside the
//! program.

use super::model::{Info, Level, Outcome, Verdict};
use super::runner::matches;

/// The built-in rubric.
pub const DEFAULT: &str = include_str!("default-rubric.toml");

/// A parsed rubric.
#[derive(Debug, Clone)]
pub struct Rubric {
    /// The levels graded.
    pub levels: Vec<Level>,
    /// Case patterns not graded.
    pub exclude: Vec<String>,
    /// The weight of a case no entry names.
    pub default: f64,
    /// (pattern, weight): ids, sections or batteries.
    pub weights: Vec<(String, f64)>,
    /// Credit per verdict; `None` for unsupported means "left out of the total".
    pub credit: Vec<(Verdict, Option<f64>)>,
}

/// What one case is worth and earned.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Score {
    /// Points earned.
    pub earned: f64,
    /// Points possible; 0 when the case is left out.
    pub possible: f64,
    /// Whether the case counts at all.
    pub counted: bool,
}

impl Rubric {
    /// The built-in rubric.
    pub fn builtin() -> Rubric {
        Rubric::parse(DEFAULT).unwrap_or_else(|_| Rubric {
            levels: vec![Level::Seed],
            exclude: Vec::new(),
            default: 1.0,
            weights: Vec::new(),
            credit: vec![(Verdict::Pass, Some(1.0))],
        })
    }

    /// Parses a rubric; the error names what is wrong.
    pub fn parse(text: &str) -> Result<Rubric, String> {
        let table: toml::Table =
            text.parse().map_err(|error| format!("the rubric is not valid TOML: {error}"))?;
        let mut rubric = Rubric {
            levels: vec![Level::Seed],
            exclude: Vec::new(),
            default: 1.0,
            weights: Vec::new(),
            credit: vec![
                (Verdict::Pass, Some(1.0)),
                (Verdict::NonStrict, Some(0.75)),
                (Verdict::Fail, Some(0.0)),
                (Verdict::Timeout, Some(0.0)),
                (Verdict::Crash, Some(0.0)),
                (Verdict::Unsupported, None),
            ],
        };
        for (key, value) in &table {
            match key.as_str() {
                "levels" => {
                    let names = strings(value, "levels")?;
                    rubric.levels = names
                        .iter()
                        .map(|name| match name.as_str() {
                            "seed" => Ok(Level::Seed),
                            "ext" => Ok(Level::Ext),
                            other => Err(format!("levels: {other:?} is not a level (seed or ext)")),
                        })
                        .collect::<Result<_, _>>()?;
                }
                "exclude" => rubric.exclude = strings(value, "exclude")?,
                "default" => rubric.default = number(value, "default")?,
                "weights" => {
                    let Some(weights) = value.as_table() else {
                        return Err("[weights] must be a table".into());
                    };
                    for (pattern, weight) in weights {
                        rubric
                            .weights
                            .push((pattern.clone(), number(weight, &format!("weights.{pattern}"))?));
                    }
                }
                "credit" => {
                    let Some(credit) = value.as_table() else {
                        return Err("[credit] must be a table".into());
                    };
                    for (name, value) in credit {
                        let verdict = Verdict::from_name(name)
                            .ok_or_else(|| format!("credit: {name:?} is not a verdict"))?;
                        let amount = match value.as_str() {
                            Some("excluded") => None,
                            _ => Some(number(value, &format!("credit.{name}"))?),
                        };
                        rubric.credit.retain(|(v, _)| *v != verdict);
                        rubric.credit.push((verdict, amount));
                    }
                }
                other => return Err(format!("the rubric has an unknown key {other:?}")),
            }
        }
        Ok(rubric)
    }

    /// Whether a case is graded at all.
    pub fn grades(&self, info: &Info) -> bool {
        self.levels.contains(&info.level) && !self.exclude.iter().any(|pattern| matches(pattern, info.id))
    }

    /// A case's weight: its id, then its section, then its battery, then the default.
    pub fn weight(&self, info: &Info) -> f64 {
        let section = format!("{}/{}", info.battery(), info.section());
        for key in [info.id, section.as_str(), info.battery()] {
            if let Some((_, weight)) = self.weights.iter().find(|(pattern, _)| pattern == key) {
                return *weight;
            }
        }
        // Globs last, in the order written.
        self.weights
            .iter()
            .find(|(pattern, _)| pattern.contains(['*', '?']) && matches(pattern, info.id))
            .map_or(self.default, |(_, weight)| *weight)
    }

    /// What an outcome earns.
    pub fn score(&self, outcome: &Outcome) -> Score {
        let weight = self.weight(&outcome.info);
        let credit = self.credit.iter().find(|(v, _)| *v == outcome.verdict).map_or(Some(0.0), |(_, c)| *c);
        match credit {
            None => Score { earned: 0.0, possible: 0.0, counted: false },
            Some(credit) => Score { earned: weight * credit, possible: weight, counted: true },
        }
    }
}

fn strings(value: &toml::Value, name: &str) -> Result<Vec<String>, String> {
    value
        .as_array()
        .ok_or_else(|| format!("{name} must be a list of strings"))?
        .iter()
        .map(|item| {
            item.as_str().map(str::to_string).ok_or_else(|| format!("{name} must be a list of strings"))
        })
        .collect()
}

fn number(value: &toml::Value, name: &str) -> Result<f64, String> {
    let number = value
        .as_float()
        .or_else(|| value.as_integer().map(|n| n as f64))
        .ok_or_else(|| format!("{name} must be a number"))?;
    if number.is_finite() && number >= 0.0 { Ok(number) } else { Err(format!("{name} must be 0 or more")) }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn info(id: &'static str) -> Info {
        Info { id, level: Level::Seed, description: "" }
    }

    #[test]
    fn the_builtin_rubric_parses_and_weighs_most_specific_first() {
        let rubric = Rubric::parse(DEFAULT).unwrap();
        assert_eq!(rubric.weight(&info("server/6/row-before-reply")), 3.0);
        assert_eq!(rubric.weight(&info("server/6/row-after-stop")), 2.0);
        assert_eq!(rubric.weight(&info("server/3/stop-min-max")), 1.0);
        assert!(rubric.grades(&info("server/3/stop-min-max")));
        assert!(!rubric.grades(&Info { id: "server/4/unknown-op", level: Level::Ext, description: "" }));
    }

    #[test]
    fn mistakes_are_named() {
        assert!(Rubric::parse("levels = [\"gold\"]").unwrap_err().contains("gold"));
        assert!(Rubric::parse("[credit]\nsuperb = 1").unwrap_err().contains("superb"));
        assert!(Rubric::parse("weight = 1").unwrap_err().contains("weight"));
        let custom = Rubric::parse("exclude = [\"client/5\"]\n[credit]\nunsupported = 0").unwrap();
        assert!(!custom.grades(&info("client/5/encrypted-numbers")));
    }
}
