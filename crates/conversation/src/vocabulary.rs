//! The words a call is likely to contain, for speech recognition to favour (Deepgram keyterms).

use crate::{customer::CustomerProfile, shop::ShopConfig};

/// The call's vocabulary, most important first: the caller's vehicles (make, model, and both),
/// the shop's name, the service catalog's names, then its synonyms. A vendor keeps as many as
/// its limits allow, from the front.
pub fn call_vocabulary(shop: &ShopConfig, customer: Option<&CustomerProfile>) -> Vec<String> {
    let mut terms = Vec::new();
    for vehicle in customer.iter().flat_map(|customer| &customer.vehicles) {
        terms.push(format!("{} {}", vehicle.make, vehicle.model));
        terms.push(vehicle.make.clone());
        terms.push(vehicle.model.clone());
    }
    terms.push(shop.name.clone());
    terms.extend(shop.services.iter().map(|service| service.name.clone()));
    // Synonyms are mostly everyday words the recogniser knows; the multi-word ones help most.
    terms.extend(
        shop.services
            .iter()
            .flat_map(|service| &service.synonyms)
            .filter(|synonym| synonym.contains(' '))
            .cloned(),
    );
    let mut seen = std::collections::HashSet::new();
    terms.retain(|term| !term.trim().is_empty() && seen.insert(term.to_lowercase()));
    terms
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::customer::VehicleInfo;

    #[test]
    fn vehicles_come_first_then_the_shop_and_its_services() {
        let shop = ShopConfig::default_shop();
        let customer = CustomerProfile {
            id: 1,
            first_name: "John".into(),
            last_name: "Smith".into(),
            phone: "+14135550100".into(),
            email: None,
            vehicles: vec![VehicleInfo {
                id: 1,
                year: 2019,
                make: "Honda".into(),
                model: "Civic".into(),
                mileage: None,
                vin: None,
                plate: None,
            }],
            upcoming_appointments: Vec::new(),
        };
        let terms = call_vocabulary(&shop, Some(&customer));
        assert_eq!(
            terms[..4],
            ["Honda Civic", "Honda", "Civic", shop.name.as_str()]
        );
        assert!(terms.iter().any(|t| t == "oil change"));
        assert!(terms.iter().any(|t| t == "check engine light"));
        let lower: Vec<String> = terms.iter().map(|t| t.to_lowercase()).collect();
        let mut unique = lower.clone();
        unique.sort();
        unique.dedup();
        assert_eq!(unique.len(), lower.len(), "no repeats");
        let anonymous = call_vocabulary(&shop, None);
        assert_eq!(anonymous[0], shop.name);
    }
}
