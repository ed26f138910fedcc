//! The price history's sentences: the station chart, the weekday line, the trends page
//! (`l.h()` in the templates).

use crate::domain::Lang;
use crate::text::table;

table! {
/// The history's sentences, in one language.
#[derive(Debug)]
pub struct HistoryStrings {
    pub nav_trends: &'static str,
    /// The home page: "National averages on 5 Jun 2026".
    pub home_national_title: fn(&str) -> String,
    /// After a week's change: "over 7 days".
    pub home_week: &'static str,
    pub home_trends_link: &'static str,
    pub range_label: &'static str,
    pub range_30d: &'static str,
    pub range_1y: &'static str,
    pub range_5y: &'static str,
    pub range_all: &'static str,
    pub show: &'static str,
    pub line_station: &'static str,
    /// With the département's code.
    pub line_dept: fn(&str) -> String,
    pub line_national: &'static str,
    /// With the fuel.
    pub chart_label: fn(&str) -> String,
    /// With the lowest and the highest price.
    pub period_range: fn(&str, &str) -> String,
    pub no_history: &'static str,
    /// With the weekday and the difference in cents (`−0,8`).
    pub weekday_here: fn(&str, &str) -> String,
    /// With the weekday and the difference in cents.
    pub weekday_mine: fn(&str, &str) -> String,
    /// With the weekday and the difference in cents.
    pub weekday_national: fn(&str, &str) -> String,
    pub weekday_method: &'static str,
    pub weekday_not_yet: &'static str,
    pub trends_title: &'static str,
    pub trends_intro: &'static str,
    pub average_definition: &'static str,
    pub area_label: &'static str,
    pub whole_country: &'static str,
    pub period_label: &'static str,
    pub period_1m: &'static str,
    pub period_3m: &'static str,
    pub period_1y: &'static str,
    pub period_5y: &'static str,
    pub period_all: &'static str,
    /// With the area (a département or the whole country) and the fuel.
    pub series_title: fn(&str, &str) -> String,
    /// The chart's band: from the 10th to the 90th percentile of the stations' prices.
    pub band_label: &'static str,
    /// The band's edges, as the chart's cursor names them.
    pub col_p10: &'static str,
    pub col_p90: &'static str,
    pub col_date: &'static str,
    pub col_average: &'static str,
    pub col_min: &'static str,
    pub col_max: &'static str,
    pub col_stations: &'static str,
    pub table_summary: &'static str,
    pub depts_title: &'static str,
    pub col_dept: &'static str,
    pub col_week_change: &'static str,
    pub col_sparkline: &'static str,
    /// With the département and its price.
    pub cheapest_dept: fn(&str, &str) -> String,
    /// With the département and its price.
    pub dearest_dept: fn(&str, &str) -> String,
    pub no_data: &'static str,
    pub dept_prefix: &'static str,
}
}

pub static FR: HistoryStrings = HistoryStrings {
    nav_trends: "Tendances",
    home_national_title: |d| format!("Moyennes nationales du {d}"),
    home_week: "en 7 jours",
    home_trends_link: "Voir les tendances",
    range_label: "Période du graphique",
    range_30d: "30 jours",
    range_1y: "1 an",
    range_5y: "5 ans",
    range_all: "Tout",
    show: "Afficher",
    line_station: "Cette station",
    line_dept: |d| format!("Moyenne du département {d}"),
    line_national: "Moyenne nationale",
    chart_label: |f| format!("Prix du {f} dans le temps"),
    period_range: |min, max| format!("Sur la période, de {min} au plus bas à {max} au plus haut."),
    no_history: "Pas d’historique pour ce carburant sur cette période.",
    weekday_here: |day, c| {
        format!(
            "En général, c’est le {} que c’est le moins cher ici ({c} c par rapport à la semaine).",
            day.to_lowercase()
        )
    },
    weekday_mine: |day, c| {
        format!(
            "À vos stations, le {} a été le jour le moins cher ces 8 dernières semaines ({c} c).",
            day.to_lowercase()
        )
    },
    weekday_national: |day, c| {
        format!("En France, le {} a été le jour le moins cher ces 8 dernières semaines ({c} c).", day.to_lowercase())
    },
    weekday_method: "Calcul\u{202f}: sur les 8 dernières semaines, le prix de fin de journée de chaque jour est comparé \
                     à la moyenne de sa semaine\u{202f}; le jour le plus bas en moyenne l’emporte.",
    weekday_not_yet: "Le jour le moins cher s’affichera quand 8 semaines d’historique seront disponibles.",
    trends_title: "Tendances des prix",
    trends_intro: "La moyenne des prix en France et par département, jour après jour.",
    average_definition: "Moyenne d’un jour\u{202f}: la moyenne des prix en vigueur à la fin de la journée (heure de \
                         Paris), sur les stations dont le prix a changé au cours des 30 jours précédents. Une station \
                         qui n’a plus changé son prix depuis plus de 30 jours n’est plus comptée.",
    area_label: "Zone",
    whole_country: "France entière",
    period_label: "Période",
    period_1m: "1 mois",
    period_3m: "3 mois",
    period_1y: "1 an",
    period_5y: "5 ans",
    period_all: "Depuis le début",
    series_title: |area, fuel| format!("{fuel}, {area}"),
    band_label: "10\u{202f}%–90\u{202f}% des stations",
    col_p10: "10\u{202f}% des stations sous",
    col_p90: "90\u{202f}% des stations sous",
    col_date: "Date",
    col_average: "Moyenne",
    col_min: "Plus bas",
    col_max: "Plus haut",
    col_stations: "Stations",
    table_summary: "Les chiffres du graphique",
    depts_title: "Par département, aujourd’hui",
    col_dept: "Département",
    col_week_change: "Sur 7 jours",
    col_sparkline: "30 derniers jours",
    cheapest_dept: |d, p| format!("Le moins cher aujourd’hui\u{202f}: {d} ({p})"),
    dearest_dept: |d, p| format!("Le plus cher aujourd’hui\u{202f}: {d} ({p})"),
    no_data: "Pas encore de moyenne pour ce carburant sur cette période.",
    dept_prefix: "Département",
};

pub static EN: HistoryStrings = HistoryStrings {
    nav_trends: "Trends",
    home_national_title: |d| format!("National averages on {d}"),
    home_week: "over 7 days",
    home_trends_link: "See the trends",
    range_label: "Chart period",
    range_30d: "30 days",
    range_1y: "1 year",
    range_5y: "5 years",
    range_all: "All",
    show: "Show",
    line_station: "This station",
    line_dept: |d| format!("Département {d} average"),
    line_national: "National average",
    chart_label: |f| format!("{f} price over time"),
    period_range: |min, max| format!("Over the period, from {min} at the lowest to {max} at the highest."),
    no_history: "No history for this fuel over this period.",
    weekday_here: |day, c| format!("Usually cheapest on {day} here ({c} c against the week)."),
    weekday_mine: |day, c| format!("At your stations, {day} has been the cheapest day over the last 8 weeks ({c} c)."),
    weekday_national: |day, c| format!("In France, {day} has been the cheapest day over the last 8 weeks ({c} c)."),
    weekday_method: "How: over the last 8 weeks, each day's end-of-day price is compared with its week's mean; the \
                     day lowest on average wins.",
    weekday_not_yet: "The cheapest day will show once 8 weeks of history exist.",
    trends_title: "Price trends",
    trends_intro: "The average price in France and per département, day by day.",
    average_definition: "Average of a day: the mean of the prices in effect at the end of that day (Paris time), over \
                         the stations whose price changed within the 30 days before. A station whose price has not \
                         changed for more than 30 days no longer counts.",
    area_label: "Area",
    whole_country: "All of France",
    period_label: "Period",
    period_1m: "1 month",
    period_3m: "3 months",
    period_1y: "1 year",
    period_5y: "5 years",
    period_all: "Since the start",
    series_title: |area, fuel| format!("{fuel}, {area}"),
    band_label: "10–90\u{202f}% of stations",
    col_p10: "10\u{202f}% of stations below",
    col_p90: "90\u{202f}% of stations below",
    col_date: "Date",
    col_average: "Average",
    col_min: "Lowest",
    col_max: "Highest",
    col_stations: "Stations",
    table_summary: "The chart's figures",
    depts_title: "Per département, today",
    col_dept: "Département",
    col_week_change: "Over 7 days",
    col_sparkline: "Last 30 days",
    cheapest_dept: |d, p| format!("Cheapest today: {d} ({p})"),
    dearest_dept: |d, p| format!("Dearest today: {d} ({p})"),
    no_data: "No average for this fuel over this period yet.",
    dept_prefix: "Département",
};

impl Lang {
    /// A difference in cents with one decimal and a real minus sign: `−0,8` / `−0.8`, `+1,2`.
    pub fn cents(self, milli: f64) -> String {
        let c = milli / 10.0;
        let s = format!("{:.1}", c.abs());
        let s = match self {
            Lang::Fr => s.replace('.', ","),
            Lang::En => s,
        };
        if s.trim_start_matches(['0', ',', '.']).is_empty() {
            return s;
        }
        format!("{}{s}", if c < 0.0 { '\u{2212}' } else { '+' })
    }

    /// A price change in thousandths as `+0,012 €` / `−€0.012`.
    pub fn price_change(self, milli: i32) -> String {
        let p = self.price(milli.abs());
        match milli.signum() {
            -1 => format!("\u{2212}{p}"),
            1 => format!("+{p}"),
            _ => p,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cents_and_changes() {
        assert_eq!(Lang::Fr.cents(-8.0), "\u{2212}0,8");
        assert_eq!(Lang::En.cents(12.0), "+1.2");
        assert_eq!(Lang::En.cents(0.2), "0.0");
        assert_eq!(Lang::Fr.price_change(-12), "\u{2212}0,012 €");
        assert_eq!(Lang::En.price_change(12), "+€0.012");
    }
}
