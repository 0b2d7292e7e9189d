use super::*;

fn call(method: &http::Method, status: u16) -> Finished<'_> {
    Finished {
        method,
        path: None,
        status,
        code: None,
        client_ip: None,
        started: Instant::now(),
    }
}

#[test]
fn extension_methods_share_one_label() {
    assert_eq!(&*method_label(&http::Method::GET), "GET");
    assert_eq!(&*method_label(&http::Method::TRACE), "TRACE");
    let made_up = http::Method::from_bytes(b"MKCALENDAR").unwrap();
    assert_eq!(&*method_label(&made_up), "OTHER");
    assert_eq!(method_key(&made_up), None);
    assert_eq!(method_key(&http::Method::PUT), Some(http::Method::PUT));
}

#[test]
fn made_up_methods_add_no_label_sets() {
    std::thread::spawn(|| {
        for i in 0..100 {
            let method = http::Method::from_bytes(format!("M{i}").as_bytes()).unwrap();
            count(&call(&method, 405), None, 0.001);
        }
        assert_eq!(handles_len(), 1, "one OTHER label set");
    })
    .join()
    .unwrap();
}

#[test]
fn a_thread_keeps_a_bounded_number_of_label_sets() {
    std::thread::spawn(|| {
        // Every redeployed API is a new label; they must not pile up.
        for i in 0..(MAX_HANDLES + 10) {
            let api: Arc<str> = format!("/api{i}/1.0.0").into();
            count(&call(&http::Method::GET, 200), Some(&api), 0.001);
            assert!(handles_len() <= MAX_HANDLES);
        }
        assert!(handles_len() < MAX_HANDLES, "started afresh when full");
    })
    .join()
    .unwrap();
}
